local pretty = require "schedtest.pretty"

describe("schedtest.pretty.format", function()
  it("renders scalars the way Lua source would", function()
    assert.are.equal("42", pretty.format(42))
    assert.are.equal("1.5", pretty.format(1.5))
    assert.are.equal("2.0", pretty.format(2.0))
    assert.are.equal("nan", pretty.format(0 / 0))
    assert.are.equal("-inf", pretty.format(-math.huge))
    assert.are.equal('"a\\nb\\"c"', pretty.format('a\nb"c'))
    assert.are.equal("true", pretty.format(true))
    assert.are.equal("nil", pretty.format(nil))
  end)

  it("sorts keys: array part, numbers, strings, others", function()
    local t = { "x", "y", [10] = "ten", b = 2, a = 1, ["not id"] = 3,
                [true] = "t" }
    assert.are.equal('{ "x", "y", [10] = "ten", a = 1, b = 2, ' ..
                     '["not id"] = 3, [true] = "t" }', pretty.format(t))
  end)

  it("marks cycles and still prints shared references", function()
    local t = { name = "root" }
    t.self = t
    local shared = { 1 }
    t.a, t.b = shared, shared
    assert.are.equal('{ a = { 1 }, b = { 1 }, name = "root", self = <cycle> }',
                     pretty.format(t))
  end)

  it("limits depth", function()
    local deep = { a = { b = { c = { d = { e = 1 } } } } }
    assert.are.equal("{ a = { b = {...1} } }",
                     pretty.format(deep, { depth = 2 }))
  end)

  it("breaks long tables over lines with indentation", function()
    local t = {}
    for i = 1, 30 do t["key_" .. i] = i end
    local s = pretty.format(t)
    assert.matches("^{\n  key_1 = 1,\n  key_10 = 10,\n", s)
    assert.matches("\n}$", s)
  end)

  it("uses __pretty, then __tostring, for objects", function()
    local obj = setmetatable({}, { __pretty = function()
      return { kind = "pool", rows = 3 } end })
    assert.are.equal('{ kind = "pool", rows = 3 }', pretty.format(obj))
    local named = setmetatable({}, { __tostring = function()
      return "schedtest.Thing (1 row)" end })
    assert.are.equal("schedtest.Thing (1 row)", pretty.format(named))
  end)

  it("caps the number of items shown", function()
    local t = {}
    for i = 1, 10 do t[i] = i end
    assert.are.equal("{ 1, 2, 3, ...(7 more) }",
                     pretty.format(t, { max_items = 3 }))
  end)
end)
