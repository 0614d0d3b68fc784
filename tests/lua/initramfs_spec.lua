-- schedtest.initramfs from Lua: the image a VM boots.
local initramfs = require "schedtest.initramfs"
local fs = require "schedtest.fs"
local sh = require "helpers.sh"

describe("schedtest.initramfs", function()
  local dir
  before_each(function() dir = assert(fs.tempdir("initramfs-spec-")) end)
  after_each(function() fs.remove_tree(dir) end)

  it("packs files, bytes, links and a dynamic binary; cpio reads it", function()
    local ir <close> = initramfs.new()
    assert.is_true(ir:add_binary("/bin/ls", "/bin/ls"))
    assert.is_true(ir:add_bytes("/spec.json", '{"a":1}', 420))
    assert.is_true(ir:add_dir("/proc", 365))
    assert.is_true(ir:add_symlink("/init", "/bin/ls"))
    assert.is_true(ir:add_chardev("/dev/console", 384, 5, 1))
    assert.is_true(ir:count() > 8)
    assert.is_true(ir:bytes() > 100000)
    assert.is_true(ir:write(dir .. "/img.gz", { gzip = true }))
    local r = sh.run{ "sh", "-c", "gzip -dc " .. sh.quote(dir .. "/img.gz") ..
                      " | cpio -t --quiet" }
    assert.are.equal(0, r.code, r.err)
    for _, want in ipairs{ "bin/ls", "spec.json", "init", "dev/console",
                           "lib64/ld-linux-x86-64.so.2" } do
      assert.matches("\n" .. want:gsub("%p", "%%%0") .. "\n", "\n" .. r.out)
    end
  end)

  it("returns nil, message, code for what the environment refuses", function()
    local ir <close> = initramfs.new()
    local ok, msg, code = ir:add_binary("/bin/x", "/etc/hostname")
    assert.is_nil(ok)
    assert.are.equal("EELF", code)
    assert.matches("not an ELF file", msg, 1, true)
    ok, msg, code = ir:add_file("/x", dir .. "/missing")
    assert.are.equal("ENOENT", code)
    ok, msg, code = ir:add_bytes("relative", "")
    assert.are.equal("EINVAL", code)
  end)

  it("raises on misuse: unknown write option, closed handle", function()
    local ir = initramfs.new()
    assert.has_error(function() ir:write(dir .. "/x", { zstd = true }) end)
    ir:close()
    ir:close() -- idempotent
    assert.has_error(function() ir:count() end,
                     "attempt to use a closed schedtest.Initramfs")
  end)

  it("elf_deps lists the interpreter first", function()
    local deps = assert(initramfs.elf_deps("/bin/ls"))
    assert.are.equal("/lib64/ld-linux-x86-64.so.2", deps[1])
    local _, _, code = initramfs.elf_deps("/etc/hostname")
    assert.are.equal("EELF", code)
  end)
end)
