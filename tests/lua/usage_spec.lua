local usage = require "schedtest.usage"

local function parser()
  local p = usage.parser{ prog = "schedtest demo", summary = "Demo.",
                          passthrough = "TEST ARGS" }
  p:flag{ "--json", help = "print JSON" }
  p:option{ "-n", "--noise-adjust", metavar = "N", type = "integer",
            help = "runs per side",
            check = function(v) return v >= 2, "must be at least 2" end }
  p:option{ "--format", choices = { "text", "json" }, default = "text",
            help = "output format" }
  p:option{ "-E", "--filter", metavar = "EXPR", repeatable = true }
  p:positional{ "run", optional = true, help = "run id" }
  return p
end

local function usage_error(fn)
  local ok, e = pcall(fn)
  assert.is_false(ok)
  assert.is_true(usage.is_error(e), tostring(e))
  return tostring(e)
end

describe("schedtest.usage parser", function()
  it("parses flags, typed options, defaults and positionals", function()
    local o = parser():parse({ "--json", "-n", "5", "R1", "-E", "a",
                               "--filter=b" })
    assert.are.same({ json = true, noise_adjust = 5, format = "text",
                      filter = { "a", "b" }, run = "R1" }, o)
  end)

  it("collects passthrough arguments after --", function()
    local o = parser():parse({ "--", "--features", "x" })
    assert.are.same({ "--features", "x" }, o["--"])
  end)

  it("rejects unknown options, bad types, choices and checks", function()
    assert.matches("unknown option '%-%-nope'",
                   usage_error(function() parser():parse({ "--nope" }) end))
    assert.matches("expects a whole number, got 'x'",
                   usage_error(function() parser():parse({ "-n", "x" }) end))
    assert.matches("must be at least 2", usage_error(function()
      parser():parse({ "--noise-adjust", "1" }) end))
    assert.matches("must be one of text, json", usage_error(function()
      parser():parse({ "--format", "xml" }) end))
    assert.matches("needs a value", usage_error(function()
      parser():parse({ "-n" }) end))
    assert.matches("given twice", usage_error(function()
      parser():parse({ "--json", "--json" }) end))
    assert.matches("unexpected argument 'extra'", usage_error(function()
      parser():parse({ "R1", "extra" }) end))
  end)

  it("prints help with every option and its default", function()
    local p = parser()
    local text = p:help_text()
    assert.matches("usage: schedtest demo [OPTIONS] [RUN] [-- TEST ARGS]",
                   text, 1, true)
    assert.matches("-n, --noise-adjust N", text, 1, true)
    assert.matches("[default: text]", text, 1, true)
    assert.matches("-h, --help", text, 1, true)
  end)
end)
