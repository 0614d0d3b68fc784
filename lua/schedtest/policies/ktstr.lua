-- The ktstr rule, exactly (ktstr-spec.md §2.3 scalar, §3.5 noise):
-- separated = Welch two-sided p < 0.05 OR disjoint [min, max] bands;
-- material = |delta| >= abs gate AND |delta/a| >= rel gate; separated and
-- material -> REGRESSION / improvement by the sign of the mean delta
-- (informational for directionless metrics); fewer than 2 runs -> NOISY;
-- fail when at least fail_threshold (5) metrics regress, a must-fail metric
-- regresses or a declared per-test gate regresses.  No correction for the
-- number of metrics compared.
return {
  name = "ktstr",
  description = "ktstr's perf-delta rule: Welch p<0.05 or disjoint bands, registry gates",
  fail_threshold = 5,
  alpha = 0.05,
  spread_threshold = 5,
  count = "metrics",      -- every regressed metric counts toward the threshold
  cached = "averaged",    -- cached mode compares the averages of the sides
  -- verdict and gate: the engine's built-ins (compare.ktstr_verdict,
  -- compare.default_gate) are this rule.
}
