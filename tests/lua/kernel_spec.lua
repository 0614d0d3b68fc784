-- `schedtest kernel ...` and the schedtest.kernel binding, over synthetic
-- bzImages in a private cache (SCHEDTEST_CACHE_DIR): no real kernel here.
local sh = require "helpers.sh"
local fs = require "schedtest.fs"
local kernel = require "schedtest.kernel"
local cjson = require "cjson"

-- Bytes of a minimal bzImage: "HdrS", protocol 2.15, version at 0x300.
local function fake_image(version)
  local b = {}
  for i = 1, 0x1000 do b[i] = "\0" end
  local function put(off, s)
    for i = 1, #s do b[off + i] = s:sub(i, i) end
  end
  put(0x202, "HdrS")
  put(0x206, "\x0f\x02")
  put(0x20e, "\x00\x01")
  put(0x300, version .. " (me@host) #1 SMP\0")
  return table.concat(b)
end

local function entry(root, name, version, kind, config)
  local dir = root .. "/kernels/" .. name
  assert(fs.mkdir_p(dir))
  assert(fs.write_atomic(dir .. "/bzImage", fake_image(version)))
  assert(fs.write_atomic(dir .. "/kind", kind .. "\n"))
  if config then assert(fs.write_atomic(dir .. "/config", config)) end
  assert(fs.write_atomic(dir .. "/metadata.json", cjson.encode{
    name = name, kind = kind, version = version, bzimage_bytes = 4096 }))
end

describe("schedtest kernel", function()
  local root
  before_each(function() root = assert(fs.tempdir("kernel-spec-")) end)
  after_each(function() fs.remove_tree(root) end)

  local function run(args)
    return sh.schedtest_run(args, { env = { SCHEDTEST_CACHE_DIR = root } })
  end

  it("list says how to fill an empty cache", function()
    local r = run{ "kernel", "list" }
    assert.are.equal(0, r.code)
    assert.matches("no kernels in " .. root .. "/kernels", r.out, 1, true)
    assert.matches("schedtest kernel build", r.out, 1, true)
    r = run{ "kernel", "list", "--json" }
    assert.are.equal(0, r.code)
    assert.are.same({}, cjson.decode(r.out))
  end)

  it("list shows every entry as a table row, skipping staging dirs", function()
    entry(root, "6.12.117-aaaaaaaaaaaa", "6.12.117", "built",
          "CONFIG_SCHED_CLASS_EXT=y\n")
    entry(root, "6.12.117+deb12-amd64-bbbbbbbbbbbb", "6.12.117+deb12-amd64",
          "debian", "# CONFIG_SCHED_CLASS_EXT is not set\n")
    entry(root, ".tmp-cccc", "9.9", "built")
    local r = run{ "kernel", "list" }
    assert.are.equal(0, r.code, r.err)
    local lines = {}
    for l in r.out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.matches("^NAME%s+VERSION%s+KIND%s+SCHED_EXT", lines[1])
    assert.matches("^6%.12%.117%+deb12%-amd64%-bbbbbbbbbbbb%s+6%.12%.117%+deb12%-amd64%s+debian%s+no",
                   lines[2])
    assert.matches("^6%.12%.117%-aaaaaaaaaaaa%s+6%.12%.117%s+built%s+yes",
                   lines[3])
    assert.is_nil(r.out:find("9.9", 1, true))
    local j = cjson.decode(run{ "kernel", "list", "--json" }.out)
    assert.are.equal(2, #j)
    assert.are.equal("cache", j[2].source)
    assert.is_true(j[2].sched_ext)
  end)

  it("show resolves a name prefix, a kind and a file", function()
    entry(root, "6.12.117-aaaaaaaaaaaa", "6.12.117", "built",
          "CONFIG_SCHED_CLASS_EXT=y\n")
    local r = run{ "kernel", "show", "--json", "6.12" }
    assert.are.equal(0, r.code, r.err)
    local k = cjson.decode(r.out)
    assert.are.equal("6.12.117", k.version)
    assert.are.equal("built", k.kind)
    r = run{ "kernel", "show", "--json", "built" }
    assert.are.equal("6.12.117-aaaaaaaaaaaa", cjson.decode(r.out).name)
    local img = root .. "/kernels/6.12.117-aaaaaaaaaaaa/bzImage"
    r = run{ "kernel", "show", "--json", img }
    k = cjson.decode(r.out)
    assert.are.equal("file", k.source)
    assert.are.equal("6.12.117", k.version)
  end)

  it("a wrong --kernel names each form and why it failed", function()
    local r = run{ "kernel", "show", root .. "/nope" }
    assert.are.equal(1, r.code)
    assert.matches("as a bzImage/vmlinuz file: no such file", r.err, 1, true)
    assert.matches("as a kernel source tree: not a directory", r.err, 1, true)
    assert.matches("as a kernel cache name/version prefix: the kernel cache " ..
                   root .. "/kernels is empty", r.err, 1, true)
    -- A directory that is not a tree; a file that is not a bzImage.
    r = run{ "kernel", "show", root }
    assert.matches("is a directory", r.err, 1, true)
    assert.matches("no include/config/kernel.release", r.err, 1, true)
    r = run{ "kernel", "show", "/bin/ls" }
    assert.matches("not an x86 bzImage", r.err, 1, true)
  end)

  it("misuse is a usage error", function()
    assert.are.equal(2, run{ "kernel" }.code)
    local r = run{ "kernel", "frobnicate" }
    assert.are.equal(2, r.code)
    assert.matches("unknown kernel command", r.err, 1, true)
    r = run{ "kernel", "fetch", "fedora" }
    assert.are.equal(2, r.code)
    assert.matches("only 'debian'", r.err, 1, true)
    assert.are.equal(2, run{ "kernel", "build", "--jobs", "0" }.code)
  end)

  it("dir prints the cache directory", function()
    local r = run{ "kernel", "dir" }
    assert.are.equal(root .. "/kernels\n", r.out)
  end)
end)

describe("schedtest.kernel", function()
  it("resolve fails with nil, message, EKERNEL", function()
    local k, msg, code = kernel.resolve("/nonexistent/bzImage")
    assert.is_nil(k)
    assert.are.equal("EKERNEL", code)
    assert.matches("/nonexistent/bzImage", msg, 1, true)
  end)

  it("image_version reads the setup header", function()
    local dir = assert(fs.tempdir())
    assert(fs.write_atomic(dir .. "/bz", fake_image("6.1.2-x")))
    assert.are.equal("6.1.2-x", kernel.image_version(dir .. "/bz"))
    local v, msg, code = kernel.image_version("/bin/ls")
    assert.is_nil(v)
    assert.are.equal("EKERNEL", code)
    fs.remove_tree(dir)
  end)

  it("cache_dir is under cache_root", function()
    assert.are.equal(kernel.cache_root() .. "/kernels", kernel.cache_dir())
  end)
end)
