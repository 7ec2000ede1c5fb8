-- Specs for kina.sim.oci (OCI image-layout tars) and kina.core.digest.
local oci = require("kina.sim.oci")
local digest = require("kina.core.digest")

local function tar_of(images, opts)
  local f = io.tmpfile()
  assert(oci.write(f, images, opts))
  f:seek("set")
  return f
end

describe("kina.core.digest", function()
  it("computes FIPS 180-4 test vectors", function()
    assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", digest.sha256(""))
    assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", digest.sha256("abc"))
    assert.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      digest.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
  end)

  it("hashes incrementally, in chunks of any size, to the same value", function()
    local s = string.rep("0123456789abcdef", 1000) .. "tail"
    local h = digest.sha256_new()
    local i = 1
    for _, n in ipairs({ 1, 63, 64, 65, 127, 1000, 5 }) do h:update(s:sub(i, i + n - 1)); i = i + n end
    h:update(s:sub(i))
    assert.equal(digest.sha256(s), h:hexdigest())
    assert.equal(#s, h:size())
    assert.has_error(function() h:update("more") end)
  end)
end)

local archives = dofile("spec/support/oracle/archives.lua")

local function file_of(bytes)
  local f = io.tmpfile()
  f:write(bytes)
  f:seek("set")
  return f
end

describe("kina.sim.oci", function()
  it("round-trips references, platforms and real digests", function()
    local images = {
      { reference = "docker.io/kindest/node:v1.35.5", platform = "linux/arm64" },
      { reference = "docker.io/library/alpine:3.20", platform = { os = "linux", architecture = "amd64" } },
    }
    local f = tar_of(images)
    local got = assert(oci.read(f))
    assert.equal(2, #got)
    assert.equal("docker.io/kindest/node:v1.35.5", got[1].reference)
    assert.equal("linux/arm64", got[1].platform)
    assert.equal("linux/amd64", got[2].platform)
    assert.equal(oci.image_digest(images[1]), got[1].digest)
    assert.matches("^sha256:%x+$", got[2].digest)
  end)

  it("writes a ustar OCI layout whose blob names are the sha256 of their bytes", function()
    local dir = os.tmpname(); os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    local path = dir .. "/img.tar"
    local f = assert(io.open(path, "wb"))
    assert(oci.write(f, { { reference = "example.com/app:1" } }))
    f:close()
    assert(os.execute("tar -xf " .. path .. " -C " .. dir))
    local layout = assert(io.open(dir .. "/oci-layout")):read("a")
    assert.equal('{"imageLayoutVersion":"1.0.0"}', layout)
    local index = assert(io.open(dir .. "/index.json")):read("a")
    assert.truthy(index:find('"org.opencontainers.image.ref.name":"example.com/app:1"', 1, true))
    local p = io.popen("cd " .. dir .. "/blobs/sha256 && for b in *; do printf '%s ' $b; sha256sum $b | cut -c1-64; done")
    local n = 0
    for line in p:lines() do
      local name, sum = line:match("^(%x+) (%x+)$")
      assert.equal(name, sum)
      n = n + 1
    end
    p:close()
    assert.equal(4, n) -- index, manifest, config, layer
    os.execute("rm -rf " .. dir)
  end)

  it("streams a large layer without holding it, and reads it back", function()
    local size = 3 * 1024 * 1024 + 17
    local f = tar_of({ { reference = "docker.io/library/big:1" } }, { layer_size = size })
    local total = f:seek("end")
    assert.is_true(total > size)
    f:seek("set")
    local got = assert(oci.read(f))
    assert.equal("docker.io/library/big:1", got[1].reference)
  end)

  it("rejects a stream that is not a tar", function()
    local f = io.tmpfile()
    f:write(string.rep("this is not a tar archive\n", 40))
    f:seek("set")
    local images, err, kind = oci.read(f)
    assert.is_nil(images)
    assert.equal("archive/tar: invalid tar header", err)
    assert.equal("not_tar", kind)
  end)

  it("rejects an empty stream and a tar that is neither an OCI layout nor a docker save", function()
    local empty = io.tmpfile()
    local images, err, kind = oci.read(empty)
    assert.is_nil(images)
    -- containerd core/images/archive/importer.go: no oci-layout and no manifest.json
    assert.equal("unrecognized image format", err)
    assert.equal("not_archive", kind)
    local dir = os.tmpname(); os.remove(dir)
    os.execute("mkdir -p " .. dir .. " && echo hi > " .. dir .. "/hello.txt && tar -cf " .. dir .. "/plain.tar -C " .. dir .. " hello.txt")
    local f = assert(io.open(dir .. "/plain.tar", "rb"))
    images, err, kind = oci.read(f)
    f:close()
    os.execute("rm -rf " .. dir)
    assert.is_nil(images)
    assert.equal("not_archive", kind)
  end)

  it("reports a truncated archive and a missing blob", function()
    local f = tar_of({ { reference = "docker.io/library/a:1" } }, { layer_size = 100000 })
    local whole = f:read("a")
    local cut = io.tmpfile(); cut:write(whole:sub(1, #whole - 60000)); cut:seek("set")
    local images, _, kind = oci.read(cut)
    assert.is_nil(images)
    assert.equal("truncated", kind)
    -- drop the layer member: the index still refers to it
    local layer_at = whole:find("blobs/sha256/", 2048, true)
    local members, pos = {}, 1
    while pos < #whole do
      local name = whole:sub(pos, pos + 99):gsub("%z.*", "")
      if name == "" then break end
      local size = tonumber(whole:sub(pos + 124, pos + 135):match("[0-7]+"), 8)
      local len = 512 + ((size + 511) // 512) * 512
      members[#members + 1] = { name = name, data = whole:sub(pos, pos + len - 1), size = size }
      pos = pos + len
    end
    assert.truthy(layer_at)
    local out = io.tmpfile()
    for _, m in ipairs(members) do if m.size < 100000 then out:write(m.data) end end
    out:write(string.rep("\0", 1024)); out:seek("set")
    local err
    images, err, kind = oci.read(out)
    assert.is_nil(images)
    assert.equal("missing_blob", kind)
    assert.matches("^content digest sha256:%x+: not found$", err)
  end)

  it("reads a docker save archive as containerd's importer does", function()
    local bytes, d = archives.docker_save("oracle-docker:v1", "linux/arm64")
    local archive = assert(oci.read_archive(file_of(bytes)))
    assert.equal("docker", archive.format)
    local m = archive.index.manifests
    assert.equal(1, #m)
    -- one descriptor per RepoTag: the normalised name, and the tag as the OCI ref name
    assert.same({ ["io.containerd.image.name"] = "docker.io/library/oracle-docker:v1",
      ["org.opencontainers.image.ref.name"] = "v1" }, m[1].annotations)
    assert.equal("application/vnd.docker.distribution.manifest.v2+json", m[1].mediaType)
    assert.same({ os = "linux", architecture = "arm64" }, m[1].platform)
    -- the made manifest: Go's encoding/json of the importer's struct, named by its sha256
    local body = archive.blobs[m[1].digest].body
    assert.equal("sha256:" .. digest.sha256(body), m[1].digest)
    assert.equal(('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",'
      .. '"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"%s","size":%d},'
      .. '"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar","digest":"%s","size":%d}]}')
      :format(d.config_digest, archive.blobs[d.config_digest].size, d.layer_digest, archive.blobs[d.layer_digest].size), body)
    local images = assert(oci.read(file_of(bytes)))
    assert.equal("docker.io/library/oracle-docker:v1", images[1].reference)
    assert.equal(d.config_digest, images[1].config_digest)
  end)

  it("keeps a tag-only OCI layout's name as it is and names blobs by their bytes", function()
    local bytes = archives.oci_layout("v1", "linux/arm64")
    local images, archive = oci.read(file_of(bytes))
    assert.equal("oci", archive.format)
    assert.equal("v1", images[1].reference)
    assert.same({ ["org.opencontainers.image.ref.name"] = "v1" }, archive.index.manifests[1].annotations)
    for d, b in pairs(archive.blobs) do
      if b.body then assert.equal(d, "sha256:" .. digest.sha256(b.body)) end
    end
  end)

  it("reads a multi-platform index holding one platform's blobs, which only a full walk finds incomplete", function()
    local bytes, d = archives.multi_platform("docker.io/library/oracle-multi:v1", "linux/arm64", "linux/amd64")
    local archive = assert(oci.read_archive(file_of(bytes)))
    local kids = assert(oci.children(archive, archive.index.manifests[1]))
    assert.equal(2, #kids)
    local missing
    for _, k in ipairs(kids) do if k.platform.architecture == "amd64" then missing = k end end
    local none, err = oci.children(archive, missing)
    assert.is_nil(none)
    assert.equal("content digest " .. d.missing_manifest .. ": not found", err)
    local images, rerr, kind = oci.read(file_of(bytes))
    assert.is_nil(images)
    assert.equal("missing_blob", kind)
    assert.equal("content digest " .. d.missing_manifest .. ": not found", rerr)
  end)

  it("normalises references as distribution/reference does", function()
    assert.equal("docker.io/library/alpine:latest", oci.normalize_reference("alpine"))
    assert.equal("docker.io/library/alpine:3.20", oci.normalize_reference("alpine:3.20"))
    assert.equal("docker.io/team/app:1", oci.normalize_reference("team/app:1"))
    assert.equal("localhost:5000/app:latest", oci.normalize_reference("localhost:5000/app"))
    assert.equal("example.com/a/b@sha256:00", oci.normalize_reference("example.com/a/b@sha256:00"))
  end)

  it("validates its arguments", function()
    assert.has_error(function() oci.write(io.tmpfile(), { { reference = "x", bogus = 1 } }) end)
    assert.has_error(function() oci.write(io.tmpfile(), { {} }) end)
    assert.has_error(function() oci.write(io.tmpfile(), {}, { nope = true }) end)
    assert.has_error(function() oci.parse_platform("linux") end)
  end)
end)
