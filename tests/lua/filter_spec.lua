local filter = require "schedtest.filter"

local tests = {
  { name = "perf_pingpong_pinned", scheduler = "scx_vtime",
    performance_mode = true },
  { name = "perf_fanout", scheduler = "scx_vtime", performance_mode = true },
  { name = "smoke_boot", scheduler = "eevdf" },
  { name = "vs_eevdf_phases", scheduler = "scx_vtime" },
}

local function names(src)
  local f = assert(filter.compile(src))
  local out = {}
  for _, t in ipairs(f:select(tests)) do out[#out + 1] = t.name end
  return table.concat(out, ",")
end

describe("schedtest.filter", function()
  it("matches test names by substring, exact and regex", function()
    assert.are.equal("perf_pingpong_pinned", names("test(pingpong)"))
    assert.are.equal("perf_fanout", names("test(=perf_fanout)"))
    assert.are.equal("", names("test(=perf)"))
    assert.are.equal("perf_pingpong_pinned,perf_fanout",
                     names("test(/^perf_/)"))
    assert.are.equal("smoke_boot", names("smoke"))
  end)

  it("combines with | & not and parentheses", function()
    assert.are.equal("perf_fanout,smoke_boot",
                     names("test(fanout) | test(smoke)"))
    assert.are.equal("perf_pingpong_pinned",
                     names("test(/^perf/) & not fanout"))
    assert.are.equal("perf_pingpong_pinned",
                     names("test(/^perf/) - fanout"))
    assert.are.equal("perf_pingpong_pinned,perf_fanout,vs_eevdf_phases",
                     names("not (smoke | none())"))
    assert.are.equal("perf_fanout", names("fanout or (smoke and pingpong)"))
  end)

  it("filters on scheduler and performance_mode", function()
    assert.are.equal("smoke_boot", names("scheduler(=eevdf)"))
    assert.are.equal("perf_pingpong_pinned,perf_fanout", names("perf()"))
    assert.are.equal("vs_eevdf_phases", names("not perf() & scheduler(vtime)"))
  end)

  it("allows parentheses inside a regex", function()
    assert.are.equal("perf_pingpong_pinned,perf_fanout",
                     names("test(/^perf_(ping|fan)/)"))
  end)

  it("rejects malformed expressions with the column", function()
    local cases = {
      ["test(/abc"] = "unterminated regular expression",
      ["test(abc"] = "missing ')'",
      ["test(/abc)"] = "unterminated regular expression",
      ["test(/a(/)"] = "bad regular expression",
      ["frob(x)"] = "unknown predicate 'frob()'",
      ["a |"] = "expression expected",
      ["(a"] = "missing ')'",
      ["a )"] = "unexpected ')'",
      [""] = "empty expression",
      ["test()"] = "test() needs a matcher",
    }
    for src, want in pairs(cases) do
      local f, msg, code = filter.compile(src)
      assert.is_nil(f, src)
      assert.are.equal("EINVAL", code)
      assert.matches(want, msg, 1, true)
    end
  end)

  it("joins repeated filters with or", function()
    local f = assert(filter.any({ assert(filter.compile("smoke")),
                                  assert(filter.compile("fanout")) }))
    assert.is_true(f:matches(tests[2]))
    assert.is_true(f:matches(tests[3]))
    assert.is_false(f:matches(tests[1]))
  end)
end)
