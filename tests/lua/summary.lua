-- busted output handler: one line per test, failure details, and a closing
-- "<suite>: N passed, N failed[, N skipped]" line.  When $SCHEDTEST_COUNTS
-- names a file, the three counts are also written there for tests/run.sh.
local io, os, string, ipairs, type, tostring = io, os, string, ipairs, type,
  tostring

return function(options)
  local busted = require "busted"
  local handler = require "busted.outputHandlers.base"()
  local suite = os.getenv("SCHEDTEST_SUITE") or "lua"

  local function describe_failure(f)
    local where = ""
    if f.element and f.element.trace and f.element.trace.short_src then
      where = f.element.trace.short_src .. ":" ..
        tostring(f.element.trace.currentline) .. ": "
    end
    local msg = f.message
    if type(msg) ~= "string" then
      msg = require("pl.pretty").write(msg)
    end
    local tb = (f.trace and f.trace.traceback) or ""
    return where .. (f.name or "?") .. "\n    " ..
      tostring(msg):gsub("\n", "\n    ") .. (tb ~= "" and ("\n" .. tb) or "")
  end

  handler.testEnd = function(element, parent, status)
    local word = ({ success = "ok  ", pending = "skip", failure = "FAIL",
                    error = "ERR " })[status] or status
    io.write(string.format("%s %s\n", word, handler.getFullName(element)))
    io.flush()
    return nil, true
  end

  handler.suiteEnd = function()
    for _, f in ipairs(handler.failures) do
      io.write("\nFAILURE: ", describe_failure(f), "\n")
    end
    for _, f in ipairs(handler.errors) do
      io.write("\nERROR: ", describe_failure(f), "\n")
    end
    local passed = handler.successesCount
    local failed = handler.failuresCount + handler.errorsCount
    local skipped = handler.pendingsCount
    local line = string.format("%s: %d passed, %d failed", suite, passed,
                               failed)
    if skipped > 0 then line = line .. string.format(", %d skipped", skipped) end
    io.write("\n", line, "\n")
    local counts = os.getenv("SCHEDTEST_COUNTS")
    if counts and counts ~= "" then
      local f = io.open(counts, "w")
      if f then
        f:write(string.format("%d %d %d\n", passed, failed, skipped))
        f:close()
      end
    end
    io.flush()
    return nil, true
  end

  busted.subscribe({ "test", "end" }, handler.testEnd,
                   { predicate = handler.cancelOnPending })
  busted.subscribe({ "suite", "end" }, handler.suiteEnd)
  return handler
end
