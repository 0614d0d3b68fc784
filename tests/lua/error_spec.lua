local E = require "schedtest.error"

describe("schedtest.error", function()
  it("exposes every code by its stable name", function()
    assert.are.equal(-4, E.codes.ENOENT)
    assert.are.equal(0, E.codes.OK)
    assert.are.equal("ENOENT", E.name(-4))
    assert.are.equal("EVMBOOT", E.name(E.codes.EVMBOOT))
  end)

  it("names and numbers round-trip for every code", function()
    local n = 0
    for name, code in pairs(E.codes) do
      assert.are.equal(name, E.name(code))
      assert.is_string(E.describe(name))
      n = n + 1
    end
    assert.is_true(n > 10)
  end)

  it("rejects an unknown code name", function()
    assert.has_error(function() E.describe("ENOPE") end)
    assert.is_nil(E.name(99999))
  end)

  it("is what bindings return as the third value of a failure", function()
    local fs = require "schedtest.fs"
    local v, msg, code = fs.read_file("/nonexistent/file")
    assert.is_nil(v)
    assert.matches("/nonexistent/file", msg, 1, true)
    assert.are.equal("ENOENT", code)
    assert.is_not_nil(E.codes[code])
  end)
end)
