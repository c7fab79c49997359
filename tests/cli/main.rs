//! The `snn` program end to end, in one test binary: training and evaluating on the embedded
//! subset (`train`, `evaluate`), K networks and sweeps (`multi`), what it prints (`output`),
//! crash-safe resume (`resume`), pictures (`plots`) and clear errors for every bad input
//! (`bad_input`); and `snn-bench`'s rows (`bench`). Its own harness (`common/harness.rs`, libtest-mimic) shows a GPU case as
//! ignored when there is no adapter and fails it when one is required (`CI=true`).

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/harness.rs"]
mod harness;

mod bad_input;
mod bench;
mod evaluate;
mod multi;
mod output;
mod plots;
mod resume;
mod train;

fn main() -> std::process::ExitCode {
    harness::run(harness::trials! {
        train: [
            Cpu train_then_evaluate_on_the_embedded_subset,
            Cpu bad_inputs_get_clear_errors,
            Cpu presets_print_as_toml_that_train_accepts,
            Cpu a_config_files_seed_stands_unless_seed_is_given,
            Cpu the_first_run_is_dc400_short_and_data_gets_the_papers_dc400,
            Gpu eval_backend_labels_and_tests_elsewhere_with_the_same_result,
            Cpu refractory_choice_is_recorded_in_the_run,
        ],
        evaluate: [
            Cpu evaluate_labels_on_the_training_split,
        ],
        bench: [
            Mixed the_overhead_row_times_presentations,
        ],
        multi: [
            Cpu two_networks_report_each_and_the_ensemble_and_save_single_runs,
            Cpu a_sweep_file_sets_each_network_and_bad_ones_are_refused,
            Cpu a_killed_cpu_run_of_two_networks_resumes_bit_for_bit,
            Gpu a_killed_gpu_run_of_two_networks_resumes_bit_for_bit,
        ],
        output: [
            Cpu json_mode_prints_only_json_lines,
            Cpu quiet_mode_prints_one_line_and_no_stderr,
            Cpu progress_goes_to_a_log_as_lines,
        ],
        resume: [
            Cpu cpu_crash_then_resume_is_bit_identical,
            Gpu gpu_crash_then_resume_is_bit_identical,
            Gpu a_run_moves_between_the_backends,
            Cpu a_resume_that_contradicts_the_checkpoint_is_refused,
            Cpu a_resume_on_other_test_images_is_refused,
            Cpu a_resume_past_this_machine_is_refused,
            Cpu a_checkpoint_of_the_first_cpu_engine_resumes_with_its_spikes,
            Cpu overwrite_replaces_the_whole_run,
            Cpu a_resumed_run_reports_its_own_rate,
        ],
        plots: [
            Cpu recorded_presentation_has_the_counts_of_a_frozen_batch,
            Cpu plot_run_writes_every_picture_of_a_synthetic_run,
            Cpu missing_results_skip_their_pictures_with_a_note,
            Cpu a_missing_run_or_network_is_an_error_naming_it,
            Cpu edited_run_files_draw_what_they_can,
            Cpu cli_plot_on_a_tiny_trained_run,
            Gpu cli_plot_replays_the_presentation_on_the_gpu,
        ],
        bad_input::config: [
            Cpu time_constants_at_or_below_dt_are_errors_naming_field_and_dt,
            Cpu a_coarse_dt_is_a_warning_naming_the_time_constant,
            Cpu diehl_cook_config_warnings_spare_the_paper_and_flag_the_rest,
            Cpu diehl_cook_config_errors_name_the_key,
            Cpu w_max_below_w_min_is_refused,
            Mixed bad_rates_and_loads_name_the_input_on_both_backends,
            Cpu cli_unknown_toml_key_names_key_file_and_presets_show,
            Cpu cli_zero_counts_are_refused_by_flag,
            Cpu cli_prints_warnings_unless_quiet,
            Cpu long_presentations_zero_neurons_and_bad_time_constants_name_the_key_and_limit,
            Cpu cli_a_sweep_value_of_the_wrong_type_names_its_key,
        ],
        bad_input::data: [
            Cpu mnist_missing_folder_or_file_says_how_to_get_it,
            Cpu mnist_damaged_files_name_the_file_and_say_fetch_again,
            Cpu mnist_counts_that_disagree_name_both_files,
            Cpu mnist_images_that_are_not_28x28_are_refused,
            Cpu cli_bad_mnist_folders_fail_with_the_file_named,
            Cpu cli_raw_and_gz_files_that_differ_and_an_empty_test_split_are_refused,
        ],
        bad_input::gpu: [
            Gpu a_layer_too_large_for_the_gpu_names_the_limit_and_the_ways_out,
            Cpu bad_kernel_tuning_variables_name_the_variable_and_what_it_takes,
            Cpu no_adapter_says_what_to_install_and_how_to_go_on,
            Cpu cli_no_adapter,
            Cpu cli_an_unknown_simd_level_is_refused,
            Cpu cli_removed_tuning_variables_are_named_in_a_warning,
        ],
        bad_input::output: [
            Cpu an_output_path_through_a_regular_file_fails_before_training,
            Cpu a_failing_write_leaves_no_temp_file_and_the_old_file_untouched,
            Cpu a_full_disk_fails_naming_the_file_and_leaves_no_partial_file,
            Cpu saved_runs_with_bad_labels_or_mismatched_files_are_refused_naming_the_files,
        ],
        bad_input::run_dir: [
            Cpu a_second_run_into_a_locked_directory_is_refused_at_once,
            Cpu a_data_error_leaves_no_empty_run_directory,
            Cpu too_many_networks_are_refused_before_anything_is_written,
            Cpu seeds_that_would_wrap_are_refused,
            Cpu a_run_past_the_step_clock_is_refused_before_training,
            Cpu more_training_images_than_the_set_holds_are_refused,
            Cpu a_cpu_network_larger_than_memory_is_refused_before_allocating,
            Cpu a_layer_past_what_a_checkpoint_holds_is_refused,
            Cpu a_checkpoint_that_counts_past_the_run_is_refused_on_resume,
        ],
        bad_input::state: [
            Mixed non_finite_state_stops_both_backends_naming_population_variable_neuron_step,
            Mixed non_finite_state_in_k_networks_names_population_variable_and_network,
            Cpu cli_non_finite_state_is_an_error,
        ],
        bad_input::stdout: [
            Cpu train_and_evaluate_survive_a_closed_stdout_and_keep_the_run,
        ],
    })
}
