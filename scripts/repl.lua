-- Interactive Lua prompt with every schedtest module at hand.
local usage = require "schedtest.usage"

local p = usage.parser{
  prog = "schedtest repl",
  summary = "Interactive Lua prompt with every schedtest module at hand.",
  description = [[
Expressions print their value (1+1 prints 2); incomplete chunks continue on
the next line; Ctrl-C interrupts a running chunk, Ctrl-D leaves.
`st.pool`, `st.stats`, ... load schedtest modules; `pp(v)` pretty-prints.
History: $SCHEDTEST_HISTORY, else $XDG_STATE_HOME/schedtest/history.
Input that is not a terminal is read line by line, without prompts.]],
}
if not p:parse({ ... }) then return 0 end
return require("schedtest.repl").run()
