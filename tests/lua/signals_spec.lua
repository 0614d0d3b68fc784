-- SIGINT, SIGTERM and SIGHUP unwind a running schedtest the same way:
-- `<close>` variables run, children are stopped, the exit status is
-- 128 + n and the last line names the signal.
local sh = require "helpers.sh"
local fs = require "schedtest.fs"

-- Start `schedtest ARGS` in the background with TMPDIR=dir, wait for the
-- file dir/ready to appear (the code under test writes it once it is
-- set up), send `sig` and wait.  `prefix` runs before schedtest in the
-- same subshell (a trap, say).  Returns {code=, out=, err=}.
local function signal_run(dir, args, sig, opts)
  opts = opts or {}
  local argv = { sh.schedtest }
  for _, a in ipairs(args) do argv[#argv + 1] = sh.quote(a) end
  local script = table.concat({
    "cd " .. sh.quote(dir),
    "(" .. (opts.prefix or "") .. " TMPDIR=" .. sh.quote(dir) ..
      " exec " .. table.concat(argv, " ") .. " <" ..
      (opts.stdin and sh.quote(opts.stdin) or "/dev/null") ..
      " >out 2>err) &",
    "pid=$!",
    "i=0",
    "while [ ! -e ready ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done",
    "kill -" .. sig .. " $pid",
    "wait $pid",
    "echo $? >rc",
  }, "\n")
  assert(os.execute(script))
  return {
    code = tonumber(fs.read_file(dir .. "/rc")),
    out = fs.read_file(dir .. "/out") or "",
    err = fs.read_file(dir .. "/err") or "",
  }
end

-- Lua code that makes a guarded temporary directory, records its path in
-- ./guarded, says ready and spins.
local GUARDED_LOOP = [[
  local fs = require "schedtest.fs"
  local d = assert(fs.tempdir("guarded-"))
  local guard <close> = setmetatable({}, {
    __close = function() fs.remove_tree(d) end })
  assert(fs.write_atomic("guarded", d))
  assert(fs.write_atomic("ready", ""))
  while true do end
]]

local function exists(path)
  return fs.stat(path) ~= nil
end

describe("stop signals", function()
  local dir
  before_each(function() dir = assert(fs.tempdir("signals-spec-")) end)
  after_each(function() fs.remove_tree(dir) end)

  for _, c in ipairs({
    { sig = "TERM", code = 143, msg = "schedtest: terminated (SIGTERM)" },
    { sig = "HUP", code = 129, msg = "schedtest: hangup (SIGHUP)" },
    { sig = "INT", code = 130, msg = "schedtest: interrupted" },
  }) do
    it("SIG" .. c.sig .. " closes <close> variables and exits " .. c.code,
       function()
      local r = signal_run(dir, { "-e", GUARDED_LOOP }, c.sig)
      assert.are.equal(c.code, r.code)
      assert.are.equal("\n" .. c.msg .. "\n", r.err:sub(-#c.msg - 2))
      assert.not_matches("traceback", r.err, 1, true)
      local guarded = assert(fs.read_file(dir .. "/guarded"))
      assert.is_false(exists(guarded))
    end)
  end

  it("SIGTERM stops a proc.run child and removes its capture directory",
     function()
    -- The child records its pid, then becomes `sleep 30`.
    local code = [[
      local proc = require "schedtest.proc"
      proc.run({ "sh", "-c", "echo $$ > child; : > ready; exec sleep 30" },
               { stdout = "capture" })
      print("not reached")
    ]]
    local t0 = os.time()
    local r = signal_run(dir, { "-e", code }, "TERM")
    assert.are.equal(143, r.code)
    assert.matches("schedtest: terminated (SIGTERM)", r.err, 1, true)
    assert.are.equal("", r.out)
    assert.is_true(os.time() - t0 < 20) -- not the sleep's 30 s
    local pid = assert(fs.read_file(dir .. "/child")):match("%d+")
    assert.is_falsy(os.execute("kill -0 " .. pid .. " 2>/dev/null"))
    for _, name in ipairs(assert(fs.list(dir))) do
      assert.not_matches("^schedtest%-proc%-", name)
    end
  end)

  it("still catches SIGTERM after a nested protected call returned",
     function()
    -- host.repl runs its chunk through a nested luax_pcall, which must
    -- put the outer handlers back for all three signals.
    local input = dir .. "/input"
    assert(fs.write_atomic(input, "nested = 1\n"))
    local code = [[
      require("schedtest.host").repl(function(chunk)
        load(chunk)()
      end)
      assert(nested == 1)
    ]] .. GUARDED_LOOP
    local r = signal_run(dir, { "-e", code }, "TERM", { stdin = input })
    assert.are.equal(143, r.code)
    assert.matches("schedtest: terminated (SIGTERM)", r.err, 1, true)
    assert.is_false(exists(assert(fs.read_file(dir .. "/guarded"))))
  end)

  it("leaves SIGHUP alone when it was ignored at start (nohup)", function()
    local code = [[
      local fs = require "schedtest.fs"
      assert(fs.write_atomic("ready", ""))
      local t = os.clock()
      while os.clock() - t < 0.5 do end
      print("finished")
    ]]
    local r = signal_run(dir, { "-e", code }, "HUP",
                         { prefix = "trap '' HUP;" })
    assert.are.equal(0, r.code)
    assert.are.equal("finished\n", r.out)
  end)

  it("SIGTERM at the REPL prompt exits 143", function()
    -- stdin is a fifo a sleeping writer holds open, so the REPL blocks at
    -- its prompt after the first line.
    local fifo = dir .. "/in"
    assert(os.execute("mkfifo " .. sh.quote(fifo)))
    assert(os.execute("cd " .. sh.quote(dir) .. " && { " ..
                      "(echo 'x = 1'; : > ready; exec sleep 5) > in & " ..
                      "echo $! > writer; }"))
    local r = signal_run(dir, { "repl" }, "TERM", { stdin = fifo })
    os.execute("kill " .. assert(fs.read_file(dir .. "/writer")):match("%d+")
               .. " 2>/dev/null")
    assert.are.equal(143, r.code)
    local msg = "\nschedtest: terminated (SIGTERM)\n"
    assert.are.equal(msg, r.err:sub(-#msg))
  end)
end)

describe("schedtest.host.interrupt_signal", function()
  it("is nil while no stop signal arrived", function()
    local host = require "schedtest.host"
    assert.is_false(host.interrupted())
    assert.is_nil(host.interrupt_signal())
  end)
end)
