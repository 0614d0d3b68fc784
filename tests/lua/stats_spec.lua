-- schedtest.stats against SciPy reference values (tests/fixtures/stats/
-- make_reference.py writes reference.json), plus the documented behaviour on
-- degenerate input.
local stats = require "schedtest.stats"
local cjson = require "cjson"

local REL = 1e-9

local function load_reference()
  local f = assert(io.open("tests/fixtures/stats/reference.json"))
  local ref = cjson.decode(f:read("a"))
  f:close()
  return ref
end

local function num(v)
  if v == "inf" then return math.huge end
  if v == "-inf" then return -math.huge end
  return v
end

-- |got - want| <= REL * |want| (or exact for 0 and infinities)
local function close(got, want, what)
  want = num(want)
  if want == nil or want == cjson.null then
    assert(got == nil, what .. ": expected nil, got " .. tostring(got))
    return
  end
  assert(type(got) == "number", what .. ": expected " .. want .. ", got " .. tostring(got))
  if want == got then return end
  local err = math.abs(got - want)
  assert(err <= REL * math.abs(want) or err <= 1e-300,
         string.format("%s: got %.17g, want %.17g (rel %.3g)", what, got, want,
                       err / math.abs(want)))
end

local ref = load_reference()

describe("schedtest.stats against SciPy", function()
  it("covers at least 20 datasets", function()
    assert.is_true(#ref.datasets >= 20)
  end)

  for _, ds in ipairs(ref.datasets) do
    describe(ds.name, function()
      it("describes both samples", function()
        for side, x in pairs{ a = ds.a, b = ds.b } do
          local want = ds["describe_" .. side]
          local got = assert(stats.describe(x))
          assert.are.equal(want.n, got.n)
          for _, k in ipairs{ "mean", "var", "sd", "min", "max", "median", "mad",
                              "cv", "spread_pct" } do
            close(got[k], want[k], side .. "." .. k)
          end
          local q = assert(stats.quantile(x, want.quantiles.p))
          for i, w in ipairs(want.quantiles.q) do close(q[i], w, side .. ".q" .. i) end
        end
      end)

      it("Welch t-test", function()
        local got, msg, code = stats.welch(ds.a, ds.b)
        if ds.welch.error then
          assert.is_nil(got); assert.are.equal(ds.welch.error, code); assert.is_string(msg)
          return
        end
        assert(got, msg)
        for _, k in ipairs{ "t", "dof", "p", "p_less", "p_greater" } do
          if ds.welch[k] then close(got[k], ds.welch[k], "welch." .. k) end
        end
      end)

      it("disjoint bands", function()
        assert.are.equal(ds.disjoint, stats.disjoint(ds.a, ds.b))
      end)

      it("Mann-Whitney U", function()
        local got = assert(stats.mann_whitney(ds.a, ds.b))
        local want = ds.mann_whitney
        assert.are.equal(want.method, got.method)
        for _, k in ipairs{ "u", "p", "p_less", "p_greater" } do
          if want[k] then close(got[k], want[k], "mwu." .. k) end
        end
      end)

      if ds.ratio_ci then
        it("ratio interval (log-ratio and Fieller)", function()
          for _, want in ipairs(ds.ratio_ci) do
            local what = string.format("ratio_ci %s %.2f", want.method, want.level)
            local got, _, code = stats.ratio_ci(ds.a, ds.b, { level = want.level, method = want.method })
            if want.error then
              assert.are.equal(want.error, code, what)
            else
              assert(got, what)
              for _, k in ipairs{ "estimate", "lo", "hi", "se", "dof" } do
                if want[k] ~= nil then close(got[k], want[k], what .. "." .. k) end
              end
              assert.are.equal(want.clamped or false, got.clamped, what .. ".clamped")
              assert.is_true(got.lo >= 0 or not got.clamped)
            end
          end
        end)
      end

      it("Hodges-Lehmann shift and Moses interval", function()
        for _, want in ipairs(ds.hodges_lehmann) do
          local what = string.format("hl %.2f", want.level)
          local got = assert(stats.hodges_lehmann(ds.a, ds.b, { level = want.level }))
          assert.are.equal(want.method, got.method, what)
          assert.are.equal(want.attainable, got.attainable, what)
          for _, k in ipairs{ "estimate", "lo", "hi", "coverage" } do
            close(got[k], want[k], what .. "." .. k)
          end
        end
      end)

      if ds.hodges_lehmann_one then
        it("one-sample Hodges-Lehmann (Walsh averages)", function()
          local d = {}
          for i = 1, #ds.a do d[i] = ds.b[i] - ds.a[i] end
          for _, want in ipairs(ds.hodges_lehmann_one) do
            local what = string.format("hl1 %.2f", want.level)
            local got = assert(stats.hodges_lehmann_one(d, { level = want.level }))
            assert.are.equal(want.attainable, got.attainable, what)
            for _, k in ipairs{ "estimate", "lo", "hi", "coverage" } do
              close(got[k], want[k], what .. "." .. k)
            end
          end
        end)
      end

      if ds.paired_t then
        it("paired t-test", function()
          local got, _, code = stats.paired_t(ds.a, ds.b)
          if ds.paired_t.error then assert.are.equal(ds.paired_t.error, code) return end
          for _, k in ipairs{ "t", "dof", "p", "p_less", "p_greater" } do
            if ds.paired_t[k] then close(got[k], ds.paired_t[k], "paired." .. k) end
          end
        end)

        it("Wilcoxon signed-rank", function()
          local got = assert(stats.wilcoxon(ds.a, ds.b))
          local want = ds.wilcoxon
          assert.are.equal(want.method, got.method)
          for _, k in ipairs{ "w_plus", "p", "p_less", "p_greater" } do
            if want[k] then close(got[k], want[k], "wilcoxon." .. k) end
          end
        end)
      end
    end)
  end

  it("Benjamini-Hochberg and Holm adjustments", function()
    for i, v in ipairs(ref.adjust) do
      local bh, holm = assert(stats.adjust(v.p, "bh")), assert(stats.adjust(v.p, "holm"))
      for j = 1, #v.p do
        close(bh[j], v.bh[j], "bh" .. i .. "." .. j)
        close(holm[j], v.holm[j], "holm" .. i .. "." .. j)
      end
    end
  end)

  it("detectable change and needed n", function()
    for _, c in ipairs(ref.power) do
      if c.mde then
        close(stats.mde{ n = c.n, cv = c.cv, alpha = c.alpha, power = c.power, sides = c.sides,
                         paired = c.paired },
              c.mde, "mde n=" .. c.n)
      else
        local n, _, code = stats.n_for{ change = c.change, cv = c.cv, alpha = c.alpha,
                                        power = c.power, sides = c.sides }
        if c.n_for == cjson.null then
          assert.are.equal("ERANGE", code) -- more than max_n (1000) runs
        else
          assert.are.equal(c.n_for, n)
        end
      end
    end
  end)
end)

describe("schedtest.stats t tail", function()
  it("matches SciPy's t.sf", function()
    for _, c in ipairs(ref.t_sf) do
      close(assert(stats.t_sf(c.t, c.dof)), c.sf, string.format("t_sf(%g, %g)", c.t, c.dof))
    end
    assert.are.equal(0, stats.t_sf(math.huge, 3))
    assert.are.equal("EINVAL", select(3, stats.t_sf(1, 0)))
  end)
end)

describe("schedtest.stats group-sequential boundaries", function()
  it("spends alpha like the reference and finds the same boundaries", function()
    for i, plan in ipairs(ref.sequential) do
      local cum = assert(stats.gs_spend(plan.t, plan.alpha, plan.kind))
      for j = 1, #plan.t do close(cum[j], plan.cum[j], "spend" .. i .. "." .. j) end
      local b = assert(stats.gs_bounds(plan.t, plan.cum))
      for j = 1, #plan.t do
        -- numerical integration on both sides: agree to 1e-7 on the z scale
        assert(math.abs(b.z[j] - plan.z[j]) < 1e-7,
               string.format("plan %d look %d: z %.12g, want %.12g", i, j, b.z[j], plan.z[j]))
        if plan.z_scipy then assert(math.abs(b.z[j] - plan.z_scipy[j]) < 1e-7) end
      end
      -- the last look of a plan is never tested at more than the total alpha
      assert.is_true(b.nominal[#plan.t] <= plan.alpha)
    end
  end)

  it("rejects fractions that do not increase", function()
    assert.are.equal("EINVAL", select(3, stats.gs_bounds({ 0.5, 0.5 }, { 0.001, 0.002 })))
    assert.are.equal("EINVAL", select(3, stats.gs_spend({ 1.5 }, 0.01, "obf")))
  end)
end)

describe("schedtest.stats on degenerate input", function()
  it("rejects NaN and infinity with EDOMAIN, naming the index", function()
    local v, msg, code = stats.describe{ 1, 0 / 0, 3 }
    assert.is_nil(v); assert.are.equal("EDOMAIN", code); assert.matches("%[2%]", msg)
    v, msg, code = stats.welch({ 1, 2, math.huge }, { 1, 2, 3 })
    assert.is_nil(v); assert.are.equal("EDOMAIN", code)
    assert.are.equal("EDOMAIN", select(3, stats.mann_whitney({ 0 / 0 }, { 1 })))
  end)

  it("needs two values for a variance", function()
    local d = assert(stats.describe{ 7 })
    assert.are.equal(7, d.mean); assert.is_nil(d.var); assert.is_nil(d.sd); assert.is_nil(d.cv)
    assert.are.equal(0, d.spread_pct)
    assert.are.equal("EDOMAIN", select(3, stats.welch({ 1 }, { 1, 2 })))
    assert.are.equal("EDOMAIN", select(3, stats.describe{}))
  end)

  it("gives p = 1 with a note for identical constant samples", function()
    local r = assert(stats.welch({ 4, 4, 4 }, { 4, 4 }))
    assert.are.equal(1, r.p); assert.are.equal(0, r.t); assert.is_string(r.note)
    r = assert(stats.mann_whitney({ 4, 4 }, { 4, 4, 4 }))
    assert.are.equal(1, r.p); assert.is_string(r.note)
    r = assert(stats.wilcoxon({ 1, 2 }, { 1, 2 }))
    assert.are.equal(1, r.p); assert.are.equal(0, r.n)
  end)

  it("refuses a t-test between two different constants", function()
    local v, msg, code = stats.welch({ 1, 1 }, { 2, 2 })
    assert.is_nil(v); assert.are.equal("EDOMAIN", code); assert.matches("disjoint", msg)
    assert.is_true(stats.disjoint({ 1, 1 }, { 2, 2 }))
  end)

  it("spread is infinite around a zero mean", function()
    assert.are.equal(math.huge, stats.describe{ -1, 1 }.spread_pct)
  end)

  it("raises on misuse", function()
    assert.has_error(function() stats.describe{ "x" } end)
    assert.has_error(function() stats.paired_t({ 1, 2 }, { 1 }) end)
    assert.has_error(function() stats.bootstrap({ 1, 2 }, { 1, 2 }, { bogus = 1 }) end)
    assert.has_error(function() stats.adjust({ 0.1 }, "bonferroni") end)
  end)

  it("ratio intervals refuse a zero baseline and never go below 0 for non-negative data", function()
    assert.are.equal("EDOMAIN", select(3, stats.ratio_ci({ -1, 1 }, { 2, 3 })))
    assert.are.equal("EDOMAIN", select(3, stats.ratio_ci({ 0, 2 }, { 2, 3 }, { method = "log" })))
    -- a rate that fell a lot with a noisy baseline: a symmetric interval
    -- would reach below -100 %
    local r = assert(stats.ratio_ci({ 1, 9, 2, 10 }, { 0, 0.1, 0.2, 0 }, { method = "fieller" }))
    assert.are.equal(0, r.lo)
    assert.is_true(r.clamped)
    r = assert(stats.ratio_ci({ 1, 9, 2, 10 }, { 0.05, 0.1, 0.2, 0.02 }))
    assert.is_true(r.lo > 0 and r.hi > r.estimate)
    r = assert(stats.ratio_ci({ 2, 2 }, { 3, 3 }))
    assert.are.equal(1.5, r.lo); assert.are.equal(1.5, r.hi)
  end)

  it("Hodges-Lehmann says when the sizes cannot reach the level", function()
    local h = assert(stats.hodges_lehmann({ 1, 2 }, { 3, 4 }))
    assert.is_false(h.attainable); assert.are.equal(-math.huge, h.lo)
    assert.are.equal(2, h.estimate)
    -- one outlier boot moves the estimate by at most one rank
    local a = { 100, 101, 99, 100.5, 99.5 }
    local b = { 110, 111, 109, 110.5, 400 }
    h = assert(stats.hodges_lehmann(a, b))
    assert.is_true(h.estimate > 9 and h.estimate < 12)
  end)

  it("rejects p-values outside [0, 1]", function()
    assert.are.equal("EDOMAIN", select(3, stats.adjust({ 0.5, 1.5 }, "bh")))
  end)
end)

describe("schedtest.stats bootstrap", function()
  local a = { 100, 102, 98, 101, 99, 103, 97 }
  local b = { 110, 112, 108, 111, 109, 113, 107 }

  it("is reproducible for one seed and differs across seeds", function()
    local r1 = assert(stats.bootstrap(a, b, { seed = 42, resamples = 2000 }))
    local r2 = assert(stats.bootstrap(a, b, { seed = 42, resamples = 2000 }))
    local r3 = assert(stats.bootstrap(a, b, { seed = 43, resamples = 2000 }))
    assert.are.equal(r1.lo, r2.lo); assert.are.equal(r1.hi, r2.hi)
    assert.is_true(r1.lo ~= r3.lo or r1.hi ~= r3.hi)
  end)

  it("brackets the observed relative change of means and of medians", function()
    for _, stat in ipairs{ "mean", "median" } do
      local r = assert(stats.bootstrap(a, b, { stat = stat, resamples = 2000 }))
      assert.is_true(math.abs(r.estimate - 0.1) < 1e-12)
      assert.is_true(r.lo < r.estimate and r.estimate < r.hi)
      assert.is_true(r.lo > 0.05 and r.hi < 0.15)
    end
  end)

  it("refuses a zero baseline", function()
    assert.are.equal("EDOMAIN", select(3, stats.bootstrap({ -1, 1 }, { 2, 3 })))
  end)
end)
