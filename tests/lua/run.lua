-- Runs busted inside the schedtest host: `build/schedtest run
-- tests/lua/run.lua [busted args]`.  The specs therefore test the real
-- preloaded C bindings, not stand-ins.
require "busted.runner" { standalone = false }
