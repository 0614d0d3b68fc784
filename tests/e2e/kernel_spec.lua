-- End to end: the cached kernels (built or fetched on first use through
-- helpers.kernels) resolve, report sched_ext correctly, and boot in qemu
-- with an initramfs from schedtest.initramfs: a static probe as /init
-- plus /bin/ls packed with its shared libraries by the ELF walk.
local kernels = require "helpers.kernels"
local kernel = require "schedtest.kernel"
local cache = require "schedtest.kernels"
local initramfs = require "schedtest.initramfs"
local fs = require "schedtest.fs"
local sh = require "helpers.sh"

local tmp

local function probe_init()
  local out = tmp .. "/init"
  if not fs.stat(out) then
    local r = sh.run{ os.getenv("CC") or "cc", "-static", "-O2", "-o", out,
                      "tests/fixtures/kernel/init_probe.c" }
    assert(r.code == 0, "cannot build the probe init: " .. r.err)
  end
  return out
end

-- Boot `k` with the probe and /bin/ls (and `scx` as /bin/scx when
-- given), from `image` (default: k.boot_path, what schedtest boots);
-- returns the PROBE key/values.
local function boot(k, scx, image)
  local img = tmp .. "/initrd-" .. k.version
  local ir <close> = initramfs.new()
  assert(ir:add_file("/init", probe_init(), 493))
  assert(ir:add_chardev("/dev/console", 384, 5, 1))
  assert(ir:add_binary("/bin/payload", "/bin/ls"))
  if scx then assert(ir:add_binary("/bin/scx", scx)) end
  assert(ir:write(img))
  local console = tmp .. "/console-" .. k.version
  local r = sh.run{ "timeout", "90", "qemu-system-x86_64", "-accel", "tcg",
    "-cpu", "max", "-M", "pc", "-m", "512", "-smp", "2", "-nodefaults",
    "-no-user-config", "-display", "none", "-serial", "file:" .. console,
    "-no-reboot", "-kernel", image or k.boot_path, "-initrd", img,
    "-append", "console=ttyS0 quiet panic=-1" }
  local text = fs.read_file(console) or ""
  local probe = {}
  for key, v in text:gmatch("PROBE ([%w_]+)=([^\r\n]*)") do probe[key] = v end
  probe.done = text:find("PROBE done", 1, true) ~= nil
  probe.qemu_rc, probe.console = r.code, text
  return probe
end

describe("kernels (e2e)", function()
  setup(function() tmp = assert(fs.tempdir("kernel-e2e-")) end)
  teardown(function() fs.remove_tree(tmp) end)

  it("the built kernel is cached, has sched_ext and its SDK", function()
    local k = kernels.built()
    assert.are.equal("cache", k.source)
    assert.are.equal("built", k.kind)
    assert.is_true(k.sched_ext)
    assert.matches("^6%.12%.", k.version)
    -- The version is the header's, and the cache name starts with it.
    assert.are.equal(k.version, kernel.image_version(k.path))
    assert.are.equal(1, k.name:find(k.version, 1, true))
    assert.is_true(fs.stat(k.path).size > 1000000)
    local h = assert(fs.read_file(k.vmlinux_h))
    assert.truthy(h:find("struct sched_ext_ops {", 1, true))
    for _, f in ipairs{ "/lib/libbpf.a", "/bin/bpftool", "/bin/scx_simple",
                        "/include/scx/common.bpf.h", "/include/bpf/bpf.h" } do
      assert.is_table(fs.stat(k.sdk .. f), k.sdk .. f)
    end
    -- The example scheduler is static: nothing else to pack.
    assert.are.same({}, initramfs.elf_deps(k.sdk .. "/bin/scx_simple"))
    -- A second build is the cache.
    local r = sh.schedtest_run{ "kernel", "build" }
    assert.are.equal(0, r.code, r.err)
    assert.matches("kernel: cached", r.err, 1, true)
    -- resolve by kind and by the tree-independent name.
    assert.are.equal(k.path, kernel.resolve("built").path)
    assert.are.equal(k.path, kernel.resolve(k.name).path)
    -- VMs boot the bzImage's payload, decompressed once into the cache
    assert.are.equal(k.cache_dir .. "/vmlinux", k.boot_path)
    assert.is_true(kernel.pvh_entry(k.boot_path))
    assert.are.equal("gzip", kernel.payload(k.path).format)
    -- the extraction again, in a scratch entry: the same bytes; and a
    -- bzImage whose payload is not compressed as expected is refused
    local d = tmp .. "/entry"
    assert(fs.mkdir_p(d))
    local bz = assert(fs.read_file(k.path))
    assert(fs.write_atomic(d .. "/bzImage", bz))
    assert.is_true(cache.add_boot_vmlinux(d))
    assert.is_true(fs.read_file(k.boot_path) == fs.read_file(d .. "/vmlinux"))
    local bad = tmp .. "/bad-entry"
    assert(fs.mkdir_p(bad))
    local pl = kernel.payload(k.path)
    -- four zero bytes: the magic of no compression format
    assert(fs.write_atomic(bad .. "/bzImage", bz:sub(1, pl.offset) ..
                           "\0\0\0\0" .. bz:sub(pl.offset + 5)))
    local ok, why = cache.add_boot_vmlinux(bad)
    assert.is_false(ok)
    assert.are.equal("payload compressed as unknown", why)
    assert.is_nil(fs.stat(bad .. "/vmlinux"))
  end)

  it("the built kernel boots the initramfs and shows sched_ext", function()
    -- from the bzImage here; the other boots use the PVH vmlinux
    local p = boot(kernels.built(), nil, kernels.built().path)
    assert.is_true(p.done, p.console)
    assert.are.equal(kernels.built().version, p.release)
    assert.are.equal("disabled", p.sched_ext_state)
    assert.are.equal("0-1", p.nr_cpus)
    assert.are.equal("0", p.payload_rc) -- /bin/ls ran from packed libraries
  end)

  it("the SDK's scx_simple attaches to the built kernel", function()
    local k = kernels.built()
    local p = boot(k, k.sdk .. "/bin/scx_simple")
    assert.is_true(p.done, p.console)
    assert.are.equal("enabled", p.scx_state, p.console)
    assert.are.equal("simple", p.scx_ops)
    assert.are.equal("0", p.scx_exit)
  end)

  it("Debian's kernel is cached without sched_ext, with its modules", function()
    local d = kernels.debian()
    assert.are.equal("debian", d.kind)
    assert.is_false(d.sched_ext)
    assert.matches("^6%.12%.%d+%+deb12%-amd64$", d.version)
    assert.is_true(#d.modules >= 4)
    for _, m in ipairs(d.modules) do
      assert.is_table(fs.stat(m.path), m.path)
    end
    assert.are.equal(d.cache_dir .. "/vmlinux", d.boot_path)
    assert.are.equal("zstd", kernel.payload(d.path).format)
    local p = boot(d)
    assert.is_true(p.done, p.console)
    assert.are.equal(d.version, p.release)
    assert.are.equal("missing", p.sched_ext_state)
    assert.are.equal("0", p.payload_rc)
  end)
end)
