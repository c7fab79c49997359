//! The tests that use a GPU adapter, in one binary with the suite's harness
//! (`common/harness.rs`, libtest-mimic), so that a GPU test with no adapter to run on shows
//! as *ignored* in the summary instead of passing, fails where an adapter is required
//! (`CI=true` or `SNN_REQUIRE_GPU=1`), and so that they link once. Each test is a `Cpu`,
//! `Gpu` or `Mixed` trial (see the harness). `SNN_WGPU_BACKEND` and `WGPU_ADAPTER_NAME` pick
//! the adapter (README, "How the GPU is chosen").

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/harness.rs"]
mod harness;

mod dc_engine;
mod engine_vs_cpu;
mod errors;
mod gpu_vs_cpu;
mod llvmpipe_loop_cap;
mod membrane_target;
mod seed_experiment;
mod snapshot;

fn main() -> std::process::ExitCode {
    harness::run(harness::trials! {
        dc_engine: [
            Gpu dc_learning_on_the_gpu_engine_agrees_with_simulated_rest,
            Gpu dc_learning_on_the_gpu_engine_agrees_with_reset_rest,
            Gpu protocol_calls_agree,
            Gpu a_presentation_equals_its_calls,
            Gpu a_series_equals_its_presentations,
            Gpu a_series_after_another_source_agrees,
            Gpu a_bad_trial_is_named_alike,
            Gpu dc400_learning_with_delays_agrees,
            Gpu dc_learning_without_a_loop_budget_agrees,
            Gpu reversal_clamp_agrees_and_acts,
            Gpu networks_on_the_gpu_equal_the_cpu_runs,
            Gpu a_batch_on_the_gpu_equals_its_networks_alone_on_the_cpu,
            Gpu a_presentation_recorded_on_the_gpu_equals_the_cpus,
        ],
        engine_vs_cpu: [
            Gpu all_to_all_at_emission_agrees,
            Gpu fused_chunks_under_a_low_loop_budget_agree,
            Gpu fused_without_a_loop_budget_agrees,
            Gpu arrival_queues_agree_at_every_capacity,
            Gpu overflowed_sparse_arrivals_count_their_searches,
            Gpu an_overflowed_step_past_the_loop_budget_is_an_error,
            Gpu pushed_projections_agree,
            Gpu several_workgroups_agree,
            Gpu fused_is_refused_where_the_network_does_not_fit,
            Gpu neurons_in_registers_and_in_memory_agree,
            Gpu bucketed_arrivals_without_a_spike_list_agree,
            Gpu loose_columns_are_clamped_alike,
            Gpu normalisation_in_blocks_agrees,
            Gpu a_long_column_normalises_alike,
            Gpu copies_with_delays_of_their_own_agree,
            Gpu trials_of_copies_with_weights_of_their_own_agree,
            Gpu device_timing_times_the_step_passes,
            Gpu unchunked_fused_run_shows_the_loop_cap,
            Gpu a_weight_that_is_not_finite_is_found_alike,
            Gpu all_to_all_at_arrival_agrees,
            Gpu one_to_one_at_emission_agrees,
            Gpu one_to_one_at_arrival_agrees,
            Gpu all_but_self_at_emission_agrees,
            Gpu all_but_self_at_arrival_agrees,
            Gpu fixed_probability_at_emission_agrees,
            Gpu fixed_probability_at_arrival_agrees,
            Gpu fixed_in_degree_at_emission_agrees,
            Gpu fixed_in_degree_at_arrival_agrees,
            Gpu list_at_emission_agrees,
            Gpu list_at_arrival_agrees,
            Gpu spike_times_relay_agrees,
            Gpu pair_stdp_dense_agrees,
            Gpu uniform_delay_stdp_dense_agrees,
            Gpu pair_stdp_sparse_agrees,
            Gpu pair_all_to_all_stdp_dense_agrees,
            Gpu pair_all_to_all_stdp_sparse_agrees,
            Gpu triplet_stdp_dense_agrees,
            Gpu triplet_stdp_sparse_agrees,
            Gpu weight_dependent_stdp_dense_agrees,
            Gpu weight_dependent_stdp_sparse_agrees,
            Gpu weight_dependent_stdp_with_fractional_mu_agrees_within_tolerance,
            Gpu calls_between_runs_agree,
            Gpu diehl_cook_sized_network_agrees,
            Gpu brette_benchmarks_at_400_agree,
            Gpu coba_at_16000_agrees,
            Gpu tables_split_between_bindings_agree,
            Gpu song_all_to_all_stdp_agrees,
            Gpu a_network_past_llvmpipe_loop_cap_is_refused_there,
            Gpu errors_agree,
            Cpu every_engine_program_validates,
        ],
        gpu_vs_cpu: [
            Gpu if_neurons_agree,
            Gpu lif_with_theta_and_refractory_agree,
            Gpu lif_soft_reset_agrees,
            Gpu diehl_cook_excitatory_agrees,
            Gpu lockout_agrees,
            Gpu diehl_cook_inhibitory_agrees,
            Gpu current_lif_agrees,
            Gpu custom_model_agrees,
            Gpu largest_network_agrees,
        ],
        llvmpipe_loop_cap: [
            Gpu a_loop_of_k_trips_costs_k_plus_one_passes,
            Gpu a_loop_in_an_untaken_branch_costs_one_pass,
            Gpu a_pass_just_under_the_loop_budget_agrees_with_the_cpu,
        ],
        membrane_target: [
            Cpu an_input_spike_raises_v_by_exactly_its_weight_in_its_step,
            Cpu an_inhibitory_membrane_spike_lowers_v_by_exactly_its_weight_one_step_later,
            Cpu the_sign_of_a_membrane_projection_comes_from_its_target,
            Gpu gpu_agrees_with_cpu_when_every_projection_targets_the_membrane,
            Gpu gpu_agrees_with_cpu_for_conductance_exc_and_if_inh_on_the_membrane,
            Cpu winner_take_all_emerges_with_membrane_inhibition,
            Mixed invalid_combinations_name_the_projection_and_the_model,
        ],
        seed_experiment: [
            Cpu plain_f32_arithmetic_gives_the_pinned_steps,
            Cpu seed_experiment_on_cpu,
            Gpu seed_experiment_on_gpu,
        ],
        snapshot: [
            Cpu cpu_resume_is_bit_identical,
            Gpu gpu_resume_is_bit_identical,
            Gpu gpu_resume_after_a_frozen_batch_grew_the_buffers,
            Mixed snapshots_of_another_kind_or_size_are_refused,
        ],
        errors: [
            Cpu a_gpu_adapter_exists_when_required,
            Cpu no_matching_adapter_says_how_to_get_one,
            Gpu shader_errors_name_the_shader,
            Gpu device_limits_are_named,
            Gpu read_backs_past_the_buffer_limit_are_split,
            Gpu fused_schedule_needs_the_workgroup_memory,
            Gpu trials_run_in_chunks_that_fit_the_recordings,
            Gpu trials_run_in_chunks_that_fit_the_input_tables,
            Cpu impossible_parameters_name_the_field,
            Mixed non_finite_state_is_reported_with_population_variable_and_step,
        ],
    })
}
