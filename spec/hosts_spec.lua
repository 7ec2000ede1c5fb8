-- kina.hosts: kina's block of node names in a node's /etc/hosts, after Apple's lines.
local hosts = require "kina.hosts"

-- what Apple's runtime writes at start (RuntimeService.swift: localhost, then <IP> <hostname>)
local APPLE = "127.0.0.1 localhost\n192.168.64.3 dev-worker\n"

describe("kina.hosts", function()
  it("appends the block after Apple's lines, and replaces it the next time", function()
    local first = hosts.merge(APPLE, { { "dev-control-plane", "192.168.64.2" }, { "dev-worker", "192.168.64.3" } })
    assert.equal(APPLE .. hosts.BEGIN .. "\n192.168.64.2 dev-control-plane\n192.168.64.3 dev-worker\n" .. hosts.END .. "\n", first)
    local second = hosts.merge(first, { { "dev-control-plane", "192.168.64.9" }, { "dev-worker", "192.168.64.3" } })
    assert.equal(APPLE .. hosts.BEGIN .. "\n192.168.64.9 dev-control-plane\n192.168.64.3 dev-worker\n" .. hosts.END .. "\n", second)
    -- idempotent
    assert.equal(second, hosts.merge(second, { { "dev-control-plane", "192.168.64.9" }, { "dev-worker", "192.168.64.3" } }))
  end)

  it("keeps lines a user added around the block, and a file without a final newline", function()
    local text = "127.0.0.1 localhost\n10.0.0.5 registry.lan"
    local merged = hosts.merge(text, { { "a-control-plane", "192.168.64.2" } })
    assert.truthy(merged:find("^127%.0%.0%.1 localhost\n10%.0%.0%.5 registry%.lan\n# BEGIN kina"))
    local again = hosts.merge(merged .. "10.0.0.6 extra\n", { { "a-control-plane", "192.168.64.4" } })
    assert.truthy(again:find("10.0.0.6 extra\n", 1, true))
    assert.equal(1, select(2, again:gsub("# BEGIN kina", "")))
  end)

  it("parses only its own block", function()
    assert.same({}, hosts.parse(APPLE))
    local merged = hosts.merge(APPLE, { { "x-control-plane", "192.168.64.2" } })
    assert.same({ ["x-control-plane"] = "192.168.64.2" }, hosts.parse(merged))
  end)

  it("makes entries from provider nodes: bare addresses, stopped nodes left out, by name", function()
    assert.same({ { "a", "192.168.64.5" }, { "b", "192.168.64.4" } }, hosts.entries({
      { name = "b", ip = "192.168.64.4/24" }, { name = "c", state = "stopped" }, { name = "a", ip = "192.168.64.5" },
    }))
  end)

  it("refuses what is not a host name or an IPv4 address", function()
    assert.has_error(function() hosts.merge("", { { "bad name", "192.168.64.2" } }) end)
    assert.has_error(function() hosts.merge("", { { "ok", "192.168.64.2\n1.2.3.4 evil" } }) end)
    assert.has_error(function() hosts.merge("", { { "ok" } }) end)
  end)
end)
