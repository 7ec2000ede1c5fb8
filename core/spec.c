/* spec.c — kina.core.spec: a node description in, a validated `container run` argv out.
 *
 * Pure: no I/O and no clocks, so the same description and CLI version always give the same
 * argv. Defaults (cpus, memory, image, which mounts) are policy and live in Lua; this module
 * only validates and emits. Misuse raises "<field>: <what is wrong; how to fix it>", the field
 * prefixed by the caller's prefix (`nodes[2].memory: ...`). Every temporary is a Lua value,
 * so a raise anywhere cannot leak.
 *
 * Facts: reference apple-container.md (§1 versions, §2.1 run flags, §4 name rules, §5 nodes)
 * and kind-and-peers.md (§2 kind's `docker run`, §10.5, §12). */

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "kina.h"
#include "cli_version.h"

#define FIELD_MAX 256
#define MIB ((lua_Integer)1 << 20)
#define GIB ((lua_Integer)1 << 30)
#define MIN_MEMORY_MIB 200 /* "minimum memory amount allowed is 200 MiB" (§4, 0.10.0 #1208) */
#define MAX_PUBLISH_SPECS 64 /* publishedPortCountLimit (§2.1) */
#define API_SERVER_PORT 6443

/* ------------------------------------------------------------------------------------------
 * Errors and field names */

/* Push `s` with its control characters written as \n, \t, \r or \xHH. The messages quote
 * values from the user's config and command line: a newline or an escape sequence in one must
 * not start a line of its own or move the cursor on the user's terminal. */
static void push_escaped(lua_State *L, const char *s) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '\n') luaL_addstring(&b, "\\n");
    else if (*p == '\t') luaL_addstring(&b, "\\t");
    else if (*p == '\r') luaL_addstring(&b, "\\r");
    else if (*p < 0x20 || *p == 0x7f) {
      char hex[8];
      snprintf(hex, sizeof hex, "\\x%02x", (unsigned)*p);
      luaL_addstring(&b, hex);
    } else luaL_addchar(&b, (char)*p);
  }
  luaL_pushresult(&b);
}

/* Raise "<field>: <formatted message>", control characters escaped (push_escaped). */
static int field_error(lua_State *L, const char *field, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *msg = lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  const char *full = lua_pushfstring(L, "%s: %s", field, msg);
  push_escaped(L, full);
  return lua_error(L);
}

/* Format a field name into `out`; a name too long for the buffer ends in "...". */
static const char *format_field(char out[FIELD_MAX], const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, FIELD_MAX, fmt, ap);
  va_end(ap);
  if (n < 0) out[0] = '\0';
  else if (n >= FIELD_MAX) memcpy(out + FIELD_MAX - 4, "...", 4);
  return out;
}

/* out = "<prefix>.<key>" (or "<key>" without a prefix). */
static const char *field_name(char out[FIELD_MAX], const char *prefix, const char *key) {
  if (prefix && *prefix) return format_field(out, "%s.%s", prefix, key);
  return format_field(out, "%s", key);
}

static const char *field_index(char out[FIELD_MAX], const char *base, lua_Integer i) {
  return format_field(out, "%s[%lld]", base, (long long)i);
}

static const char *field_key(char out[FIELD_MAX], const char *base, const char *key) {
  return format_field(out, "%s[\"%s\"]", base, key);
}

/* ------------------------------------------------------------------------------------------
 * Typed field access. Values are read with lua_type, never coerced: 8080 is not "8080". */

/* The string at `idx` (which must be a string), refusing NUL bytes: argv strings end at NUL. */
static const char *checked_string(lua_State *L, int idx, const char *field, size_t *len) {
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  if (strlen(s) != n) field_error(L, field, "contains a NUL byte");
  if (len) *len = n;
  return s;
}

/* t[key] as a string, NULL when absent (raises when `required`). The string stays valid
 * while the table holds it. */
static const char *get_string(lua_State *L, int t, const char *key, const char *field, int required,
                              size_t *len) {
  int type = lua_getfield(L, t, key);
  const char *s = NULL;
  if (type == LUA_TSTRING) s = checked_string(L, -1, field, len);
  else if (type == LUA_TNIL) {
    if (required) field_error(L, field, "is required");
  } else field_error(L, field, "must be a string, not %s", lua_typename(L, type));
  lua_pop(L, 1);
  return s;
}

/* t[key] as an integer (8080.0 from a JSON decoder counts); returns 0 when absent. */
static int get_integer(lua_State *L, int t, const char *key, const char *field, lua_Integer *out) {
  int type = lua_getfield(L, t, key);
  int present = 0;
  if (type == LUA_TNUMBER) {
    int ok;
    *out = lua_tointegerx(L, -1, &ok);
    if (!ok) field_error(L, field, "must be an integer, not %s", lua_tostring(L, -1));
    present = 1;
  } else if (type != LUA_TNIL) {
    field_error(L, field, "must be an integer, not %s", lua_typename(L, type));
  }
  lua_pop(L, 1);
  return present;
}

/* t[key] as a boolean; `def` when absent. */
static int get_boolean(lua_State *L, int t, const char *key, const char *field, int def) {
  int type = lua_getfield(L, t, key);
  int v = def;
  if (type == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (type != LUA_TNIL) field_error(L, field, "must be a boolean, not %s", lua_typename(L, type));
  lua_pop(L, 1);
  return v;
}

/* Push t[key] when it is a table and return 1; return 0 (nothing pushed) when absent. */
static int get_table(lua_State *L, int t, const char *key, const char *field) {
  int type = lua_getfield(L, t, key);
  if (type == LUA_TTABLE) return 1;
  if (type != LUA_TNIL) field_error(L, field, "must be a table, not %s", lua_typename(L, type));
  lua_pop(L, 1);
  return 0;
}

/* The table at `idx` must be a sequence 1..n with no other keys; returns n. */
static lua_Integer check_array(lua_State *L, int idx, const char *field) {
  idx = lua_absindex(L, idx);
  lua_Integer count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1)) field_error(L, field, "must be an array (found key %s)", luaL_tolstring(L, -1, NULL));
    count++;
  }
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (n != count) field_error(L, field, "must be an array without holes");
  return n;
}

/* The table at `idx` must map non-empty strings to strings; returns the number of pairs. */
static lua_Integer check_string_map(lua_State *L, int idx, const char *field) {
  char f[FIELD_MAX];
  idx = lua_absindex(L, idx);
  lua_Integer count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      field_error(L, field, "keys must be strings, not %s", luaL_typename(L, -2));
    const char *k = checked_string(L, -2, field, NULL);
    if (!*k) field_error(L, field, "keys must not be empty");
    if (lua_type(L, -1) != LUA_TSTRING)
      field_error(L, field_key(f, field, k), "must be a string, not %s", luaL_typename(L, -1));
    checked_string(L, -1, field_key(f, field, k), NULL);
    lua_pop(L, 1);
    count++;
  }
  return count;
}

/* ------------------------------------------------------------------------------------------
 * Names (§4): Apple's container rule `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`, 2–63 characters, and
 * Kubernetes' DNS-1123 label (lower-case letters, digits, '-'; starts and ends alphanumeric;
 * ≤ 63). A node name must satisfy both. It may not contain '.' either: Apple sets the guest
 * hostname to the name up to its first '.' (§2.1 behaviour notes), kind relies on the
 * hostname being the node name (kind-and-peers §1.1, §10.5). */

static int is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static void check_dns_label(lua_State *L, const char *s, size_t len, const char *field, size_t min,
                            const char *who) {
  if (len < min) {
    if (len == 0) field_error(L, field, "must not be empty");
    field_error(L, field, "\"%s\" is too short; Apple's container runtime needs 2 to 63 characters", s);
  }
  if (len > 63)
    field_error(L, field, "\"%s\" is %d characters long; Apple's container runtime and Kubernetes allow at most 63",
                s, (int)len);
  int upper = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') upper = 1;
    else if (!is_lower_alnum(c) && c != '-') {
      if (c > ' ' && c < 127)
        field_error(L, field, "\"%s\" contains '%c'; %s allow only lower-case letters, digits and '-'", s, c, who);
      field_error(L, field, "\"%s\" contains a character that is not allowed; %s allow only lower-case letters, digits and '-'",
                  s, who);
    }
  }
  if (upper) {
    char lower[64];
    for (size_t i = 0; i < len; i++) lower[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    lower[len] = '\0';
    field_error(L, field, "\"%s\" has upper-case letters; %s allow only lower-case letters, digits and '-': write \"%s\"",
                s, who, lower);
  }
  if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
    field_error(L, field, "\"%s\" must start and end with a letter or digit (Apple's container rule and DNS-1123)", s);
}

static const char *const NODE_RULE = "Kubernetes node names (DNS-1123 labels)";

/* spec.check_name(name [, field]) -> name   (raises "<field>: ..." naming the rule that failed) */
static int l_check_name(lua_State *L) {
  const char *field = luaL_optstring(L, 2, "name");
  if (lua_type(L, 1) != LUA_TSTRING) return field_error(L, field, "must be a string, not %s", luaL_typename(L, 1));
  size_t len;
  const char *s = checked_string(L, 1, field, &len);
  check_dns_label(L, s, len, field, 2, NODE_RULE);
  lua_settop(L, 1);
  return 1;
}

/* spec.node_name(cluster, role, index) -> "<cluster>-<role>" for index 1, "<cluster>-<role><index>"
 * after (kind's namer, kind-and-peers §2.1); the result is checked like check_name. */
static int l_node_name(lua_State *L) {
  size_t clen;
  const char *cluster = luaL_checklstring(L, 1, &clen);
  const char *role = luaL_checkstring(L, 2);
  lua_Integer index = luaL_checkinteger(L, 3);
  check_dns_label(L, cluster, clen, "cluster", 1, "cluster names");
  if (strcmp(role, "control-plane") != 0 && strcmp(role, "worker") != 0 && strcmp(role, "external-load-balancer") != 0)
    return field_error(L, "role", "\"%s\" is not a node role; use \"control-plane\" or \"worker\"", role);
  if (index < 1) return field_error(L, "index", "%I is not a node index; indexes start at 1", index);
  if (index == 1) lua_pushfstring(L, "%s-%s", cluster, role);
  else lua_pushfstring(L, "%s-%s%I", cluster, role, index);
  size_t len;
  const char *name = lua_tolstring(L, -1, &len);
  check_dns_label(L, name, len, "node name", 2, NODE_RULE);
  return 1;
}

/* ------------------------------------------------------------------------------------------
 * The run argv builder */

typedef struct {
  lua_State *L;
  kina_version v;
  const char *version_text;
  const char *prefix;
  int desc;        /* the description table */
  int argv;        /* the argv being built */
  lua_Integer argc;
  int host_ports;  /* info.host_ports */
  lua_Integer nhost_ports;
  int warnings;    /* info.warnings */
  lua_Integer nwarnings;
  int seen_ports;  /* "<port>/<proto>" -> field that published it, to refuse overlaps */
  int publish_specs;
} builder;

static void arg(builder *b, const char *s) {
  lua_pushstring(b->L, s);
  lua_rawseti(b->L, b->argv, ++b->argc);
}

static void argf(builder *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(b->L, fmt, ap);
  va_end(ap);
  lua_rawseti(b->L, b->argv, ++b->argc);
}

static void warn(builder *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(b->L, fmt, ap);
  va_end(ap);
  lua_rawseti(b->L, b->warnings, ++b->nwarnings);
}

/* Raise unless this CLI version has feature `f`; `field` is what in the description needs it. */
static void require_feature(builder *b, enum kina_feature f, const char *field) {
  if (kina_version_has(b->v, f)) return;
  const kina_feature_threshold *t = &kina_feature_thresholds[f];
  field_error(b->L, field, "%s needs container %d.%d.%d or newer (this is %s)", t->what, (int)t->major,
              (int)t->minor, (int)t->patch, b->version_text);
}

/* Memory and sizes: "<number>[.<fraction>]<unit>", unit K/M/G/T with optional "B" or "iB",
 * case-insensitive, binary like Apple's parser (§2.1: "4G" = 4096 MiB). A bare number is
 * refused because Apple reads it as bytes (`--memory 4096` → 0 MiB → error, §2.1).
 * Returns whole MiB; pushes nothing. */
static lua_Integer parse_size_mib(lua_State *L, const char *s, size_t len, const char *field) {
  size_t i = 0;
  unsigned long long whole = 0, frac = 0, frac_scale = 1;
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    if (i >= 12) field_error(L, field, "\"%s\" is too large", s);
    whole = whole * 10 + (unsigned)(s[i] - '0');
    i++;
  }
  if (i == 0) field_error(L, field, "\"%s\" is not a size; write a number and a unit, like 4G or 512M", s);
  size_t num_end = i;
  if (i < len && s[i] == '.') {
    i++;
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      if (i - start >= 6) field_error(L, field, "\"%s\" has too many decimals", s);
      frac = frac * 10 + (unsigned)(s[i] - '0');
      frac_scale *= 10;
      i++;
    }
    if (i == start) field_error(L, field, "\"%s\" is not a size; write a number and a unit, like 4G or 512M", s);
    num_end = i;
  }
  const char *unit = s + i;
  size_t ulen = len - i;
  if (ulen == 0) {
    lua_pushlstring(L, s, num_end);
    const char *num = lua_tostring(L, -1);
    if (frac == 0 && whole >= 1024 && whole % 1024 == 0)
      field_error(L, field, "\"%s\" has no unit; write %sM or %dG", s, num, (int)(whole / 1024));
    field_error(L, field, "\"%s\" has no unit; write %sM or %sG", s, num, num);
  }
  int shift = -1;
  char u = unit[0] | 0x20;
  if (u == 'k') shift = 10;
  else if (u == 'm') shift = 20;
  else if (u == 'g') shift = 30;
  else if (u == 't') shift = 40;
  int suffix_ok = ulen == 1 || (ulen == 2 && (unit[1] | 0x20) == 'b') ||
                  (ulen == 3 && (unit[1] | 0x20) == 'i' && (unit[2] | 0x20) == 'b');
  if (shift < 0 || !suffix_ok)
    field_error(L, field, "\"%s\" has an unknown unit \"%s\"; use K, M, G or T (binary: 1G = 1024M)", s, unit);
  /* bytes = (whole + frac/frac_scale) << shift, exactly, in bytes (whole < 10^12 fits). */
  unsigned long long unit_bytes = 1ULL << shift;
  if (whole > (1ULL << 50) / unit_bytes) field_error(L, field, "\"%s\" is too large", s);
  unsigned long long bytes = whole * unit_bytes;
  unsigned long long frac_bytes_num = frac * unit_bytes; /* frac < 10^6, unit ≤ 2^40: fits */
  bytes += frac_bytes_num / frac_scale;
  int exact = frac_bytes_num % frac_scale == 0;
  if (!exact || bytes % (unsigned long long)MIB != 0)
    field_error(L, field, "\"%s\" is not a whole number of MiB (Apple's runtime rounds down); write %IM", s,
                (lua_Integer)(bytes / (unsigned long long)MIB));
  return (lua_Integer)(bytes / (unsigned long long)MIB);
}

/* Push the canonical form Apple accepts: "4G" when a whole number of GiB, else "4096M". */
static const char *push_size(lua_State *L, lua_Integer mib) {
  if (mib % 1024 == 0) return lua_pushfstring(L, "%IG", mib / 1024);
  return lua_pushfstring(L, "%IM", mib);
}

static void emit_resources(builder *b) {
  lua_State *L = b->L;
  char f[FIELD_MAX];
  lua_Integer cpus;
  if (get_integer(L, b->desc, "cpus", field_name(f, b->prefix, "cpus"), &cpus)) {
    /* Apple's --cpus is an integer (§2.1); the VM gets one more for overhead. */
    if (cpus < 1) field_error(L, f, "%I is not a CPU count; use 1 or more", cpus);
    arg(b, "--cpus");
    argf(b, "%I", cpus);
  }
  field_name(f, b->prefix, "memory");
  int type = lua_getfield(L, b->desc, "memory");
  if (type == LUA_TNUMBER) {
    /* A number has no unit: Apple would read it as bytes. Say so the same way as for "4096". */
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    parse_size_mib(L, s, len, f);
    field_error(L, f, "must be a string with a unit, like \"4G\"");
  } else if (type == LUA_TSTRING) {
    size_t len;
    const char *s = checked_string(L, -1, f, &len);
    lua_Integer mib = parse_size_mib(L, s, len, f);
    if (mib < MIN_MEMORY_MIB)
      field_error(L, f, "\"%s\" is below Apple's minimum of %d MiB", s, MIN_MEMORY_MIB);
    arg(b, "--memory");
    push_size(L, mib);
    lua_rawseti(L, b->argv, ++b->argc);
  } else if (type != LUA_TNIL) {
    field_error(L, f, "must be a string with a unit, like \"4G\", not %s", lua_typename(L, type));
  }
  lua_pop(L, 1);
}

/* kind runs nodes with --privileged --security-opt seccomp=unconfined --security-opt
 * apparmor=unconfined (kind-and-peers §2.3). Apple has no such flags (`Unknown option
 * '--privileged'`, §2.1, apple/container#206): each node is its own VM and no seccomp profile
 * is applied (§5.1), so the equivalent is capabilities plus cleared masked/read-only paths —
 * exactly what Apple's own k8s plugin sets (§5.6):
 *   - ≥ 0.12.0: --cap-add ALL. Before 0.12 every capability was the default (§5.1) and the
 *     flag does not exist, so nothing is emitted.
 *   - ≥ 1.2.1: --masked-path NONE --read-only-path NONE, which clear the OCI defaults that
 *     make /proc/sys read-only and break kindest/node's `mount -o remount,ro /sys` and
 *     `sysctl -w` (§5.1, §6 #2041). ≤ 1.1.0 had no defaults to clear. 1.2.0 is refused
 *     before we get here. */
static void emit_privilege(builder *b) {
  if (kina_version_has(b->v, KINA_F_CAP_ADD)) {
    arg(b, "--cap-add");
    arg(b, "ALL");
  }
  if (kina_version_has(b->v, KINA_F_MASKED_PATHS)) {
    arg(b, "--masked-path");
    arg(b, "NONE");
    arg(b, "--read-only-path");
    arg(b, "NONE");
  }
}

/* -l io.kina.cluster=C -l io.kina.role=R, then the user's labels sorted by key. Apple splits
 * `-l` on '=' and refuses a third part ("invalid label format", §2.1), so neither keys nor
 * values may contain '='. */
static void emit_labels(builder *b, const char *cluster, const char *role) {
  lua_State *L = b->L;
  char f[FIELD_MAX], fk[FIELD_MAX];
  arg(b, "-l");
  argf(b, "io.kina.cluster=%s", cluster);
  arg(b, "-l");
  argf(b, "io.kina.role=%s", role);
  field_name(f, b->prefix, "labels");
  if (!get_table(L, b->desc, "labels", f)) return;
  check_string_map(L, -1, f);
  size_t n;
  const char **keys = kina_sorted_keys(L, -1, &n);
  for (size_t i = 0; i < n; i++) {
    field_key(fk, f, keys[i]);
    if (strcmp(keys[i], "io.kina.cluster") == 0 || strcmp(keys[i], "io.kina.role") == 0)
      field_error(L, fk, "kina sets this label itself from the cluster and role");
    if (strchr(keys[i], '=')) field_error(L, fk, "label keys may not contain '='");
    lua_getfield(L, -2, keys[i]);
    const char *value = lua_tostring(L, -1);
    if (strchr(value, '='))
      field_error(L, fk, "\"%s\" contains '='; Apple's runtime refuses label values with '=' (\"invalid label format\")",
                  value);
    arg(b, "-l");
    argf(b, "%s=%s", keys[i], value);
    lua_pop(L, 1);
  }
  lua_pop(L, 2); /* keys, labels */
}

static void emit_placement(builder *b) {
  lua_State *L = b->L;
  char f[FIELD_MAX];
  size_t len;
  const char *network = get_string(L, b->desc, "network", field_name(f, b->prefix, "network"), 0, &len);
  if (network) {
    if (!kina_valid_network_name(network, len))
      field_error(L, f, "\"%s\" is not a network name (lower-case letters, digits, '.', '_' and '-'; up to 63)",
                  network);
    require_feature(b, KINA_F_NETWORK, f);
    if (strcmp(network, "none") == 0) require_feature(b, KINA_F_NETWORK_NONE, f);
    arg(b, "--network");
    arg(b, network);
  }
  /* The kernel is copied into the container bundle at create time (§5.3); Apple makes a
   * relative path absolute against its own cwd, so only absolute paths are accepted. */
  const char *kernel = get_string(L, b->desc, "kernel", field_name(f, b->prefix, "kernel"), 0, NULL);
  if (kernel) {
    if (kernel[0] != '/') field_error(L, f, "\"%s\" must be an absolute host path", kernel);
    arg(b, "--kernel");
    arg(b, kernel);
  }
  const char *platform = get_string(L, b->desc, "platform", field_name(f, b->prefix, "platform"), 0, &len);
  if (platform) {
    /* os/arch[/variant] (§2.1); Apple's runtime runs Linux guests only. */
    int slashes = 0, ok = len > 6 && strncmp(platform, "linux/", 6) == 0;
    for (size_t i = 0; ok && i < len; i++) {
      char c = platform[i];
      if (c == '/') {
        if (++slashes > 2 || i + 1 == len || platform[i + 1] == '/') ok = 0;
      } else if (!is_lower_alnum(c) && c != '_') ok = 0;
    }
    if (!ok) field_error(L, f, "\"%s\" is not a platform like \"linux/arm64\" or \"linux/amd64\"", platform);
    require_feature(b, KINA_F_PLATFORM, f);
    arg(b, "--platform");
    arg(b, platform);
  }
  if (get_boolean(L, b->desc, "rosetta", field_name(f, b->prefix, "rosetta"), 0)) {
    require_feature(b, KINA_F_ROSETTA, f);
    arg(b, "--rosetta");
  }
}

/* Mounts, in the order given. kind mounts --tmpfs /tmp, --tmpfs /run, an anonymous --volume
 * /var and /lib/modules:ro on every node (kind-and-peers §2.3). kina adds none of them here:
 *   - /lib/modules: there are no host Linux modules; the guest kernel is Apple's (Kata) with
 *     CONFIG_MODULES off (§5.3, kind-and-peers §10.5).
 *   - /var: kind needs a volume because nested overlayfs does not work on Docker's
 *     overlay rootfs; here the rootfs is the VM's own disk, and whether an anonymous `-v /var`
 *     works is unconfirmed (kind-and-peers §10.5). Apple's k8s plugin mounts nothing (§5.6).
 *   - /tmp, /run: systemd mounts tmpfs on /run itself, Apple's plugin boots kindest/node
 *     without them (§5.6), and tmpfs pages count against the VM memory, which macOS does not
 *     get back (§6). Lua may still ask for them as {type = "tmpfs"} mounts.
 * Binds and volumes are emitted as `-v SRC:DST[:ro]`, which takes files and directories;
 * `--mount type=bind` accepts only directories ("is not a directory", §2.1). */
static void emit_mounts(builder *b) {
  lua_State *L = b->L;
  static const char *const fields[] = {"type", "host_path", "container_path", "readonly", "size", NULL};
  char f[FIELD_MAX], fi[FIELD_MAX], ff[FIELD_MAX];
  field_name(f, b->prefix, "mounts");
  if (!get_table(L, b->desc, "mounts", f)) return;
  int mounts = lua_gettop(L);
  lua_Integer n = check_array(L, mounts, f);
  lua_newtable(L); /* container paths seen -> field */
  int seen = lua_gettop(L);
  for (lua_Integer i = 1; i <= n; i++) {
    field_index(fi, f, i);
    if (lua_rawgeti(L, mounts, i) != LUA_TTABLE) field_error(L, fi, "must be a table, not %s", luaL_typename(L, -1));
    int m = lua_gettop(L);
    kina_check_fields(L, m, fi, fields);
    const char *type = get_string(L, m, "type", field_name(ff, fi, "type"), 0, NULL);
    if (!type) type = "bind";
    int is_bind = strcmp(type, "bind") == 0, is_volume = strcmp(type, "volume") == 0,
        is_tmpfs = strcmp(type, "tmpfs") == 0;
    if (!is_bind && !is_volume && !is_tmpfs)
      field_error(L, ff, "\"%s\" is not a mount type; use \"bind\", \"volume\" or \"tmpfs\"", type);
    size_t dlen;
    const char *dst = get_string(L, m, "container_path", field_name(ff, fi, "container_path"), 1, &dlen);
    if (dst[0] != '/') field_error(L, ff, "\"%s\" must be an absolute path in the node", dst);
    if (dlen == 1) field_error(L, ff, "cannot mount over the node's root");
    if (strchr(dst, ':') || strchr(dst, ','))
      field_error(L, ff, "\"%s\" contains ':' or ',', which Apple's mount syntax cannot carry", dst);
    if (lua_getfield(L, seen, dst) == LUA_TSTRING)
      field_error(L, ff, "\"%s\" is already mounted by %s", dst, lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushstring(L, fi);
    lua_setfield(L, seen, dst);
    int readonly = get_boolean(L, m, "readonly", field_name(ff, fi, "readonly"), 0);
    const char *src = get_string(L, m, "host_path", field_name(ff, fi, "host_path"), 0, NULL);
    const char *size = NULL;
    size_t slen = 0;
    lua_Integer size_mib = 0;
    if (is_tmpfs) {
      if (src) field_error(L, ff, "a tmpfs mount has no host path");
      size = get_string(L, m, "size", field_name(ff, fi, "size"), 0, &slen);
      if (size) size_mib = parse_size_mib(L, size, slen, ff);
      if (size && size_mib < 1) field_error(L, ff, "\"%s\" is empty", size);
      if (!size && !readonly) {
        arg(b, "--tmpfs");
        arg(b, dst);
      } else {
        arg(b, "--mount");
        if (size) {
          push_size(L, size_mib);
          argf(b, "type=tmpfs,target=%s,size=%s%s", dst, lua_tostring(L, -1), readonly ? ",readonly" : "");
          lua_pop(L, 1);
        } else argf(b, "type=tmpfs,target=%s,readonly", dst);
      }
    } else {
      if (lua_getfield(L, m, "size") != LUA_TNIL) field_error(L, field_name(ff, fi, "size"), "only a tmpfs mount has a size");
      lua_pop(L, 1);
      field_name(ff, fi, "host_path");
      if (!src) field_error(L, ff, is_bind ? "is required (the host directory or file)" : "is required (the volume name)");
      if (is_bind) {
        /* Apple resolves relative paths against its own cwd; Lua resolves them first. */
        if (src[0] != '/') field_error(L, ff, "\"%s\" must be an absolute host path", src);
        if (strchr(src, ':')) field_error(L, ff, "\"%s\" contains ':', which `-v` cannot carry", src);
      } else {
        /* Volume names: `^[A-Za-z0-9][A-Za-z0-9_.-]*$`, ≤ 255 (§2.5). */
        size_t vlen = strlen(src);
        int ok = vlen >= 1 && vlen <= 255 && (is_lower_alnum(src[0]) || (src[0] >= 'A' && src[0] <= 'Z'));
        for (size_t k = 0; ok && k < vlen; k++) {
          char c = src[k];
          ok = is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-';
        }
        if (!ok) field_error(L, ff, "\"%s\" is not a volume name (letters, digits, '_', '.' and '-')", src);
        require_feature(b, KINA_F_VOLUMES, fi);
      }
      arg(b, "-v");
      argf(b, "%s:%s%s", src, dst, readonly ? ":ro" : "");
    }
    lua_pop(L, 1); /* the mount */
  }
  lua_pop(L, 2); /* seen, mounts */
}

/* Host address of a port mapping: IPv4 or IPv6 (brackets added on emission). Returns 4 or 6. */
static int ip_family(const char *s) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, s, buf) == 1) return 4;
  if (inet_pton(AF_INET6, s, buf) == 1) return 6;
  return 0;
}

/* Record host ports for info.host_ports and refuse overlaps the way Apple does: the same host
 * port twice is an error whatever the address; from 0.8.0 only within one protocol (#1000). */
static void claim_host_ports(builder *b, const char *field, const char *address, lua_Integer port,
                             lua_Integer count, const char *proto) {
  lua_State *L = b->L;
  int per_proto = kina_version_has(b->v, KINA_F_PUBLISH_PER_PROTOCOL);
  for (lua_Integer p = port; p < port + count; p++) {
    if (per_proto) lua_pushfstring(L, "%I/%s", p, proto);
    else lua_pushfstring(L, "%I", p);
    if (lua_rawget(L, b->seen_ports) == LUA_TSTRING) {
      if (per_proto)
        field_error(L, field, "host port %I/%s is already published by %s; Apple's runtime refuses overlapping host ports, even on different addresses",
                    p, proto, lua_tostring(L, -1));
      field_error(L, field, "host port %I is already published by %s; container %s refuses overlapping host ports, even for different protocols or addresses",
                  p, lua_tostring(L, -1), b->version_text);
    }
    lua_pop(L, 1);
    if (per_proto) lua_pushfstring(L, "%I/%s", p, proto);
    else lua_pushfstring(L, "%I", p);
    lua_pushstring(L, field);
    lua_rawset(L, b->seen_ports);

    lua_createtable(L, 0, 4);
    lua_pushstring(L, address);
    lua_setfield(L, -2, "address");
    lua_pushinteger(L, p);
    lua_setfield(L, -2, "port");
    lua_pushstring(L, proto);
    lua_setfield(L, -2, "protocol");
    lua_pushstring(L, field);
    lua_setfield(L, -2, "field");
    lua_rawseti(L, b->host_ports, ++b->nhost_ports);
  }
  if (++b->publish_specs > MAX_PUBLISH_SPECS)
    field_error(L, field, "is port mapping %d; Apple's runtime accepts at most %d per node (a range counts once)",
                b->publish_specs, MAX_PUBLISH_SPECS);
}

static lua_Integer check_port(lua_State *L, int t, const char *key, const char *base, int required) {
  char f[FIELD_MAX];
  lua_Integer port = 0;
  field_name(f, base, key);
  if (!get_integer(L, t, key, f, &port)) {
    if (required) field_error(L, f, "is required");
    return 0;
  }
  /* Apple's parser requires ports > 1 ("invalid publish host port range", §2.1). */
  if (port < 2 || port > 65535) field_error(L, f, "%I is not a port Apple's runtime accepts (2 to 65535)", port);
  return port;
}

/* Port mappings in the order given (kind's extraPortMappings), then the API server's, as
 * kind appends it after the user's (kind-and-peers §2.3). Emitted as
 * `-p [addr:]host[-end]:container[-end][/proto]`; the address and protocol only when given
 * (Apple defaults to 0.0.0.0 and tcp, §2.1), but info.host_ports always names them. */
static void emit_ports(builder *b, const char *role) {
  lua_State *L = b->L;
  static const char *const fields[] = {"host_address", "host_port", "container_port", "protocol", "count", NULL};
  static const char *const api_fields[] = {"address", "port", NULL};
  char f[FIELD_MAX], fi[FIELD_MAX], ff[FIELD_MAX];
  field_name(f, b->prefix, "ports");
  if (get_table(L, b->desc, "ports", f)) {
    int ports = lua_gettop(L);
    lua_Integer n = check_array(L, ports, f);
    for (lua_Integer i = 1; i <= n; i++) {
      field_index(fi, f, i);
      if (lua_rawgeti(L, ports, i) != LUA_TTABLE) field_error(L, fi, "must be a table, not %s", luaL_typename(L, -1));
      int p = lua_gettop(L);
      kina_check_fields(L, p, fi, fields);
      require_feature(b, KINA_F_PUBLISH, fi);
      lua_Integer host = check_port(L, p, "host_port", fi, 1);
      lua_Integer ctr = check_port(L, p, "container_port", fi, 1);
      lua_Integer count = 1;
      if (get_integer(L, p, "count", field_name(ff, fi, "count"), &count)) {
        if (count < 1) field_error(L, ff, "%I is not a port count; use 1 or more", count);
        if (host + count - 1 > 65535 || ctr + count - 1 > 65535)
          field_error(L, ff, "%I ports from %I run past 65535", count, host + count - 1 > 65535 ? host : ctr);
        if (count > 1) require_feature(b, KINA_F_PORT_RANGES, ff);
      }
      const char *proto_given = get_string(L, p, "protocol", field_name(ff, fi, "protocol"), 0, NULL);
      const char *proto = "tcp";
      if (proto_given) {
        /* kind's configs say TCP/UDP/SCTP; Apple publishes tcp and udp (§2.1). */
        if (strcmp(proto_given, "tcp") == 0 || strcmp(proto_given, "TCP") == 0) proto = "tcp";
        else if (strcmp(proto_given, "udp") == 0 || strcmp(proto_given, "UDP") == 0) proto = "udp";
        else field_error(L, ff, "\"%s\" is not a protocol Apple's runtime publishes; use \"tcp\" or \"udp\"", proto_given);
      }
      const char *addr = get_string(L, p, "host_address", field_name(ff, fi, "host_address"), 0, NULL);
      int family = 4;
      if (addr) {
        family = ip_family(addr);
        if (!family) field_error(L, ff, "\"%s\" is not an IPv4 or IPv6 address", addr);
        if (family == 6) require_feature(b, KINA_F_PUBLISH_IPV6, ff);
      }
      claim_host_ports(b, fi, addr ? addr : "0.0.0.0", host, count, proto);
      /* macOS lets a user bind ports below 1024 only on the wildcard address, and sudo does not
       * help because Apple's services run as the user (apple/container#1985); kina.config
       * refuses such a mapping, this warns a caller that built its own description. */
      if (host < 1024 && addr && strcmp(addr, "0.0.0.0") != 0 && strcmp(addr, "::") != 0)
        warn(b, "%s.host_port: %I on %s is below 1024: macOS lets your user bind such ports only on every address (0.0.0.0), and sudo does not help because Apple's container services run as your user (\"Permission denied while binding to host port\")",
             fi, host, addr);
      luaL_Buffer buf;
      luaL_buffinit(L, &buf);
      if (addr) {
        if (family == 6) lua_pushfstring(L, "[%s]:", addr);
        else lua_pushfstring(L, "%s:", addr);
        luaL_addvalue(&buf);
      }
      if (count > 1) lua_pushfstring(L, "%I-%I:%I-%I", host, host + count - 1, ctr, ctr + count - 1);
      else lua_pushfstring(L, "%I:%I", host, ctr);
      luaL_addvalue(&buf);
      if (proto_given) {
        lua_pushfstring(L, "/%s", proto);
        luaL_addvalue(&buf);
      }
      luaL_pushresult(&buf);
      arg(b, "-p");
      lua_rawseti(L, b->argv, ++b->argc);
      lua_pop(L, 1); /* the port */
    }
    lua_pop(L, 1);
  }
  field_name(f, b->prefix, "api_server");
  if (get_table(L, b->desc, "api_server", f)) {
    int t = lua_gettop(L);
    kina_check_fields(L, t, f, api_fields);
    /* with several control planes only the load balancer publishes it (kind §2.3) */
    if (strcmp(role, "control-plane") != 0 && strcmp(role, "external-load-balancer") != 0)
      field_error(L, f, "only a control-plane node or the load balancer publishes the API server");
    require_feature(b, KINA_F_PUBLISH, f);
    lua_Integer port = check_port(L, t, "port", f, 1);
    /* kind's default listen address; omitting it would mean Apple's 0.0.0.0 (§2.1). */
    const char *addr = get_string(L, t, "address", field_name(ff, f, "address"), 0, NULL);
    if (!addr) addr = "127.0.0.1";
    int family = ip_family(addr);
    if (!family) field_error(L, ff, "\"%s\" is not an IPv4 or IPv6 address", addr);
    if (family == 6) require_feature(b, KINA_F_PUBLISH_IPV6, ff);
    if (strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0)
      warn(b, "%s: %s publishes the API server on every host interface", ff, addr);
    claim_host_ports(b, f, addr, port, 1, "tcp");
    arg(b, "-p");
    if (family == 6) argf(b, "[%s]:%I:%d", addr, port, API_SERVER_PORT);
    else argf(b, "%s:%I:%d", addr, port, API_SERVER_PORT);
    lua_pop(L, 1);
  }
}

/* Is `item` one of the comma-separated entries of `list`? */
static int list_contains(const char *list, const char *item) {
  size_t n = strlen(item);
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len > 0 && *p == ' ') p++, len--;
    while (len > 0 && p[len - 1] == ' ') len--;
    if (len == n && strncmp(p, item, n) == 0) return 1;
    p = end ? end + 1 : NULL;
  }
  return 0;
}

/* Environment: the user's `env` plus the proxy variables, all emitted as `-e K=V` sorted by
 * key. Proxies are forwarded in upper and lower case like kind (kind-and-peers §2.3), with
 * `no_proxy_extra` (the cluster's pod/service/node ranges) appended to NO_PROXY as Apple's k8s
 * plugin does (§5.6). */
static void emit_env(builder *b) {
  lua_State *L = b->L;
  static const char *const proxy_names[] = {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", NULL};
  static const char *const proxy_lower[] = {"http_proxy", "https_proxy", "no_proxy", NULL};
  char f[FIELD_MAX], fk[FIELD_MAX], fp[FIELD_MAX];
  lua_newtable(L); /* merged environment */
  int env = lua_gettop(L);
  field_name(f, b->prefix, "env");
  if (get_table(L, b->desc, "env", f)) {
    int t = lua_gettop(L);
    check_string_map(L, t, f);
    lua_pushnil(L);
    while (lua_next(L, t)) {
      const char *k = lua_tostring(L, -2);
      if (strchr(k, '=')) field_error(L, field_key(fk, f, k), "variable names may not contain '='");
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, env);
    }
    lua_pop(L, 1);
  }
  field_name(fp, b->prefix, "proxy");
  const char *no_proxy = NULL;
  int have_proxy = 0;
  if (get_table(L, b->desc, "proxy", fp)) {
    int t = lua_gettop(L);
    kina_check_fields(L, t, fp, proxy_names);
    for (int i = 0; proxy_names[i]; i++) {
      const char *v = get_string(L, t, proxy_names[i], field_name(fk, fp, proxy_names[i]), 0, NULL);
      if (!v || !*v) continue; /* an empty host variable means "no proxy" */
      for (int c = 0; c < 2; c++) {
        const char *name = c ? proxy_lower[i] : proxy_names[i];
        if (lua_getfield(L, env, name) != LUA_TNIL)
          field_error(L, field_key(fk, f, name), "is also set by %s; set it in one place", field_name(fp, b->prefix, "proxy"));
        lua_pop(L, 1);
      }
      if (i == 2) no_proxy = v;
      else {
        have_proxy = 1;
        lua_pushstring(L, v);
        lua_setfield(L, env, proxy_names[i]);
        lua_pushstring(L, v);
        lua_setfield(L, env, proxy_lower[i]);
      }
    }
    lua_pop(L, 1);
  }
  field_name(fp, b->prefix, "no_proxy_extra");
  lua_pushstring(L, no_proxy ? no_proxy : "");
  if (get_table(L, b->desc, "no_proxy_extra", fp)) {
    int t = lua_gettop(L);
    lua_Integer n = check_array(L, t, fp);
    for (lua_Integer i = 1; i <= n; i++) {
      field_index(fk, fp, i);
      if (lua_rawgeti(L, t, i) != LUA_TSTRING) field_error(L, fk, "must be a string, not %s", luaL_typename(L, -1));
      const char *item = checked_string(L, -1, fk, NULL);
      if (!*item || strchr(item, ',') || strchr(item, ' '))
        field_error(L, fk, "\"%s\" is not one NO_PROXY entry (a name, address or CIDR)", item);
      lua_pop(L, 1);
      if (list_contains(lua_tostring(L, t - 1), item)) continue;
      int first = lua_rawlen(L, t - 1) == 0;
      lua_pushvalue(L, t - 1);
      if (!first) lua_pushliteral(L, ",");
      lua_rawgeti(L, t, i);
      lua_concat(L, first ? 2 : 3);
      lua_replace(L, t - 1);
    }
    lua_pop(L, 1);
  }
  /* Only forward NO_PROXY when there is a proxy to bypass or the host set it. */
  if (lua_rawlen(L, -1) > 0 && (have_proxy || no_proxy)) {
    for (int c = 0; c < 2; c++) {
      const char *name = c ? proxy_lower[2] : proxy_names[2];
      if (lua_getfield(L, env, name) != LUA_TNIL)
        field_error(L, field_key(fk, f, name), "is also set by %s; set it in one place", field_name(fp, b->prefix, "proxy"));
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      lua_setfield(L, env, name);
    }
  }
  lua_pop(L, 1); /* no_proxy list */
  size_t n;
  const char **keys = kina_sorted_keys(L, env, &n);
  for (size_t i = 0; i < n; i++) {
    lua_getfield(L, env, keys[i]);
    arg(b, "-e");
    argf(b, "%s=%s", keys[i], lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 2); /* keys, env */
}

/* Image references: no whitespace and no leading '-' (it would read as an option). */
static void check_image_ref(lua_State *L, const char *ref, size_t len, const char *field) {
  if (len == 0) field_error(L, field, "must not be empty");
  if (ref[0] == '-') field_error(L, field, "\"%s\" is not an image reference", ref);
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)ref[i] <= ' ' || ref[i] == 127) field_error(L, field, "\"%s\" is not an image reference", ref);
}

/* Parse the cli_version argument at `idx`. 1.2.0 is refused: nodes cannot boot there. */
static kina_version check_cli_version(lua_State *L, int idx) {
  kina_version v = {0, 0, 0};
  if (lua_type(L, idx) != LUA_TSTRING)
    field_error(L, "cli_version", "must be a version string like \"1.2.2\", not %s", luaL_typename(L, idx));
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  if (!kina_version_parse(s, len, &v)) field_error(L, "cli_version", "\"%s\" is not a version like \"1.2.2\"", s);
  if (!kina_version_nodes_boot(v))
    field_error(L, "cli_version",
                "container %s cannot run Kubernetes nodes: it makes /proc/sys read-only with no opt-out (apple/container#2041); upgrade to 1.2.1 or newer",
                s);
  return v;
}

/* spec.run_argv(desc, cli_version [, field_prefix]) -> argv, info
 *
 * argv (without the program path), in this order:
 *   run -d --name NAME
 *   [--cpus N] [--memory SIZE]
 *   [--cap-add ALL] [--masked-path NONE --read-only-path NONE]      (by version)
 *   -l io.kina.cluster=C -l io.kina.role=R [-l K=V ... by key]
 *   [--network NET] [--kernel PATH] [--platform P] [--rosetta]
 *   [-v SRC:DST[:ro] | --tmpfs DST | --mount type=tmpfs,... ...]    (mounts, as given)
 *   [-p SPEC ...]                                                   (ports as given, then the API server)
 *   [-e K=V ...]                                                    (env + proxies, by key)
 *   [--scheme S]          (desc.scheme as given; else http from 1.3.0 for a registry that
 *                          `--scheme auto` sent to http)
 *   IMAGE [ARGS ...]
 * info = {host_ports = {{address, port, protocol, field}, ...}, warnings = {...}}.
 *
 * Left out on purpose, against kind's `docker run` (kind-and-peers §2.3, §10.5):
 *   --hostname: no such flag; the guest hostname is the container name up to its first '.'
 *     (§2.1 behaviour notes), so check_name keeps node names free of '.'.
 *   --restart=on-failure:1: no such flag and containers do not auto-restart (§2.1, §6); kina
 *     restarts clusters itself.
 *   --init=false: Apple's --init is opt-in (0.10.0+) and off by default, so the entrypoint is
 *     already PID 1 as kind wants (§1, §2.1).
 *   --cgroupns=private: each node VM mounts cgroup2 in its own cgroup namespace (§5.2).
 *   --sysctl (ipv6 forwarding etc.): no such flag (§2.1, §5.2); Lua runs `sysctl -w` through
 *     exec once the node is up, which needs the cleared /proc/sys of emit_privilege.
 *   --tty: kind's nodes get a tty; Apple's -t merges stderr into it and Apple's k8s plugin
 *     runs without one (§2.1, §5.6); `container logs` still carries the console.
 *   --privileged/--security-opt, --tmpfs, volumes: see emit_privilege and emit_mounts. */
static int l_run_argv(lua_State *L) {
  static const char *const fields[] = {"name", "cluster", "role", "image", "cpus", "memory", "labels", "mounts",
                                       "ports", "api_server", "env", "proxy", "no_proxy_extra", "network",
                                       "kernel", "platform", "rosetta", "scheme", "args", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *prefix = luaL_optstring(L, 3, "");
  lua_settop(L, 3);
  builder b;
  memset(&b, 0, sizeof b);
  b.L = L;
  b.prefix = prefix;
  b.desc = 1;
  b.v = check_cli_version(L, 2);
  b.version_text = lua_tostring(L, 2);
  char f[FIELD_MAX];
  kina_check_fields(L, 1, *prefix ? prefix : "node description", fields);

  lua_newtable(L);
  b.argv = lua_gettop(L);
  lua_newtable(L);
  b.host_ports = lua_gettop(L);
  lua_newtable(L);
  b.warnings = lua_gettop(L);
  lua_newtable(L);
  b.seen_ports = lua_gettop(L);

  size_t len;
  const char *name = get_string(L, 1, "name", field_name(f, prefix, "name"), 1, &len);
  check_dns_label(L, name, len, f, 2, NODE_RULE);
  const char *cluster = get_string(L, 1, "cluster", field_name(f, prefix, "cluster"), 1, &len);
  check_dns_label(L, cluster, len, f, 1, "cluster names");
  const char *role = get_string(L, 1, "role", field_name(f, prefix, "role"), 1, NULL);
  /* external-load-balancer: the API server's load balancer of a cluster with several control
   * planes (kind's role name, kind-and-peers §2.2); it is not a Kubernetes node */
  if (strcmp(role, "control-plane") != 0 && strcmp(role, "worker") != 0 && strcmp(role, "external-load-balancer") != 0)
    field_error(L, f, "\"%s\" is not a node role; use \"control-plane\", \"worker\" or \"external-load-balancer\"", role);
  const char *image = get_string(L, 1, "image", field_name(f, prefix, "image"), 1, &len);
  check_image_ref(L, image, len, f);

  arg(&b, "run");
  arg(&b, "-d");
  arg(&b, "--name");
  arg(&b, name);
  emit_resources(&b);
  emit_privilege(&b);
  emit_labels(&b, cluster, role);
  emit_placement(&b);
  emit_mounts(&b);
  emit_ports(&b, role);
  emit_env(&b);
  /* `run` pulls a missing image itself: `scheme` ("http"|"https", the config's registrySchemes)
   * is passed as given; without it, from 1.3.0 a registry `--scheme auto` reached over http
   * needs --scheme http (see kina_registry_was_auto_http; updates-2026-12 §1). */
  const char *scheme = get_string(L, 1, "scheme", field_name(f, prefix, "scheme"), 0, NULL);
  if (scheme && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
    field_error(L, f, "\"%s\" is not a scheme; use \"http\" or \"https\"", scheme);
  if (!scheme && kina_version_has(b.v, KINA_F_SCHEME_NO_AUTO) && kina_registry_was_auto_http(image, len))
    scheme = "http";
  if (scheme) {
    arg(&b, "--scheme");
    arg(&b, scheme);
  }
  arg(&b, image);
  field_name(f, prefix, "args");
  if (get_table(L, 1, "args", f)) {
    int t = lua_gettop(L);
    lua_Integer n = check_array(L, t, f);
    char fi[FIELD_MAX];
    for (lua_Integer i = 1; i <= n; i++) {
      field_index(fi, f, i);
      if (lua_rawgeti(L, t, i) != LUA_TSTRING) field_error(L, fi, "must be a string, not %s", luaL_typename(L, -1));
      checked_string(L, -1, fi, NULL);
      lua_rawseti(L, b.argv, ++b.argc);
    }
    lua_pop(L, 1);
  }

  lua_pushvalue(L, b.argv);
  lua_createtable(L, 0, 2);
  lua_pushvalue(L, b.host_ports);
  lua_setfield(L, -2, "host_ports");
  lua_pushvalue(L, b.warnings);
  lua_setfield(L, -2, "warnings");
  return 2;
}

int luaopen_kina_core_spec(lua_State *L);
int luaopen_kina_core_spec(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"node_name", l_node_name},
    {"check_name", l_check_name},
    {"run_argv", l_run_argv},
    {NULL, NULL},
  };
  luaL_newlib(L, funcs);
  lua_pushinteger(L, MIN_MEMORY_MIB);
  lua_setfield(L, -2, "MIN_MEMORY_MIB");
  lua_pushinteger(L, MAX_PUBLISH_SPECS);
  lua_setfield(L, -2, "MAX_PORT_MAPPINGS");
  lua_pushliteral(L, "kina.core.spec 1");
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
