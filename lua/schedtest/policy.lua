-- schedtest.policy: load a comparison policy by NAME or from a FILE.lua.
--
--   local policy = require("schedtest.policy").load("ktstr")
--   local mine   = require("schedtest.policy").load("ci/my-policy.lua")
--
-- A policy is a Lua file returning a table; see docs/policies.md.  Built-in
-- names resolve to lua/schedtest/policies/NAME.lua (so a user can shadow
-- them through SCHEDTEST_LUA_PATH like any module).

local M = {}

--- Keys a policy table may have; any other key is an error (a typo in a
--- policy must not silently change a CI gate).
M.keys = {
  name = "string", description = "string",
  fail_threshold = "number", must_fail = "table",
  thresholds = "table", per_metric_percent = "table", default_percent = "number",
  metrics = { "table", "function" },
  alpha = "number", adjust = "string", false_fail = "number", false_rows = "number",
  immaterial = "number", immaterial_alpha = "number", power = "number",
  spread_threshold = "number", count = "string", cached = "string",
  verdict = "function", gate = "function",
}

M.default = "schedtest"

local function check(p, origin)
  if type(p) ~= "table" then
    error(string.format("policy %s must return a table, got %s", origin, type(p)), 0)
  end
  for k, v in pairs(p) do
    local want = M.keys[k]
    if want == nil then
      local names = {}
      for name in pairs(M.keys) do names[#names + 1] = name end
      table.sort(names)
      error(string.format("policy %s: unknown key '%s' (expected one of %s)", origin,
                          tostring(k), table.concat(names, ", ")), 0)
    end
    local ok = type(want) == "table" and (type(v) == want[1] or type(v) == want[2])
               or type(v) == want
    if not ok then
      error(string.format("policy %s: '%s' must be a %s, got %s", origin, k,
                          type(want) == "table" and table.concat(want, " or ") or want,
                          type(v)), 0)
    end
  end
  local choices = { adjust = { "pfer", "gate", "bh", "holm" },
                    count = { "metrics", "families" }, cached = { "spread", "averaged" } }
  for key, allowed in pairs(choices) do
    local v = p[key]
    if v ~= nil then
      local ok = false
      for _, a in ipairs(allowed) do ok = ok or v == a end
      if not ok then
        error(string.format("policy %s: %s must be '%s'", origin, key,
                            table.concat(allowed, "', '")), 0)
      end
    end
  end
  for _, key in ipairs{ "false_rows", "false_fail", "immaterial_alpha", "alpha" } do
    local v = p[key]
    if v ~= nil and not (v > 0 and v < 1) then
      error(string.format("policy %s: %s must be in (0, 1), got %g", origin, key, v), 0)
    end
  end
  if p.thresholds then
    for metric, t in pairs(p.thresholds) do
      if type(t) ~= "table" then
        error(string.format("policy %s: thresholds.%s must be a table {abs=, rel=}",
                            origin, tostring(metric)), 0)
      end
    end
  end
  return p
end

--- Load a policy: a NAME ("ktstr", "schedtest") or a path to a .lua file,
--- or pass a table through (validated).  Raises with a message naming the
--- policy on any problem.
function M.load(spec)
  spec = spec or M.default
  if type(spec) == "table" then return check(spec, spec.name or "(table)") end
  assert(type(spec) == "string", "policy: expected a name, a file or a table")
  if spec:match("%.lua$") or spec:find("/", 1, true) then
    local chunk, err = loadfile(spec, "t")
    if not chunk then error("policy " .. spec .. ": " .. err, 0) end
    local p = check(chunk(), spec)
    p.name = p.name or spec
    return p
  end
  if not spec:match("^[%w_%-]+$") then
    error("policy '" .. spec .. "': not a policy name or a .lua file", 0)
  end
  local ok, p = pcall(require, "schedtest.policies." .. spec)
  if not ok then
    if tostring(p):find("module 'schedtest.policies." .. spec .. "' not found", 1, true) then
      error("unknown policy '" .. spec .. "' (built in: ktstr, schedtest; or give a FILE.lua)", 0)
    end
    error(p, 0)
  end
  check(p, spec)
  p.name = p.name or spec
  return p
end

return M
