-- Write an OCI image archive of about MIB MiB (one filler layer) with the simulator's writer.
--   build/kina run bench/make_archive.lua PATH MIB
local oci = require "kina.sim.oci"
local path, mib = arg[1], tonumber(arg[2])
local f = assert(io.open(path, "wb"))
oci.write(f, { { reference = "registry.example/bench:" .. mib .. "m", platform = "linux/arm64",
  layer_size = mib * 1024 * 1024 } })
f:close()
