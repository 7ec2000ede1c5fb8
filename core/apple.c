/* apple.c — kina.core.apple: facts about Apple's `container` CLI, as pure functions.
 *
 *   versions   parse_version(text), features(version), compare_versions(a, b)
 *   argvs      argv_*(...) -> array of strings without the program path, validated, built for
 *              the CLI version when one is given (the trailing `version` argument)
 *   JSON       parse_containers/parse_networks/parse_images/parse_system_status(decoded) ->
 *              records, for every shape from 0.1 to 1.5.0 (reference apple-container.md §3,
 *              updates-2026-12 §1); keys a release adds are ignored
 *   errors     error_cause(stderr, exit_code) -> a cause code, matched on the texts of §4
 *
 * No I/O: the Lua provider runs the argvs and decodes the JSON; this module only knows the
 * CLI. Misuse raises naming the argument or option; output the module cannot read returns
 * `nil, message`. Hint texts for causes are policy and live in Lua. */

#include <stdarg.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "kina.h"
#include "cli_version.h"

/* Seconds from 1970-01-01 to 2001-01-01: Swift's default Date encoding before 1.0.0 is a
 * Double relative to 2001 (§3.3). */
#define APPLE_EPOCH_OFFSET 978307200

/* ------------------------------------------------------------------------------------------
 * Versions */

/* Parse the version argument at `idx` ("1.2.2"); raises naming `what`. */
static kina_version check_version(lua_State *L, int idx, const char *what) {
  kina_version v = {0, 0, 0};
  size_t len;
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_error(L, "%s: must be a version string like \"1.2.2\", not %s", what, luaL_typename(L, idx));
  const char *s = lua_tolstring(L, idx, &len);
  if (!kina_version_parse(s, len, &v)) luaL_error(L, "%s: \"%s\" is not a version like \"1.2.2\"", what, s);
  return v;
}

/* apple.parse_version(text) -> "1.2.2" | nil, "could not find a version in: ..."
 * `text` is `container --version` output ("container CLI version 1.2.2 (build: ...)"). */
static int l_parse_version(lua_State *L) {
  size_t len, matched;
  const char *text = luaL_checklstring(L, 1, &len);
  kina_version v;
  long at = kina_version_find(text, len, &v, &matched);
  if (at < 0) {
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) len--;
    lua_pushnil(L);
    lua_pushliteral(L, "could not find a version in: ");
    lua_pushlstring(L, text, len > 200 ? 200 : len);
    lua_concat(L, 2);
    return 2;
  }
  lua_pushlstring(L, text + at, matched);
  return 1;
}

/* apple.compare_versions(a, b) -> -1 | 0 | 1 */
static int l_compare_versions(lua_State *L) {
  kina_version a = check_version(L, 1, "a"), b = check_version(L, 2, "b");
  lua_pushinteger(L, kina_version_cmp(a, b));
  return 1;
}

/* apple.features(version) -> {cap_add = bool, ..., json_shape = "0.1"|"0.8"|"1.0",
 *   kernel_default = "6.12.28"|"6.18.5"|"6.18.15"|"6.18.35", nodes_boot = bool, version = "1.2.2"}
 * One boolean per threshold in cli_version.h (cap_add, masked_paths, publish, port_ranges,
 * copy, status_format, system_version, list_honours_all, inspect_missing_is_error,
 * stop_missing_is_error, network, platform, rosetta, scheme_no_auto, status_nested, ...). */
static int l_features(lua_State *L) {
  kina_version v = check_version(L, 1, "version");
  lua_createtable(L, 0, KINA_F_COUNT + 4);
  for (int f = 0; f < KINA_F_COUNT; f++) {
    lua_pushboolean(L, kina_version_has(v, (enum kina_feature)f));
    lua_setfield(L, -2, kina_feature_thresholds[f].name);
  }
  lua_pushstring(L, kina_version_json_shape(v));
  lua_setfield(L, -2, "json_shape");
  lua_pushstring(L, kina_version_kernel_default(v));
  lua_setfield(L, -2, "kernel_default");
  lua_pushboolean(L, kina_version_nodes_boot(v));
  lua_setfield(L, -2, "nodes_boot");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "version");
  return 1;
}

/* ------------------------------------------------------------------------------------------
 * Argument vectors */

typedef struct {
  lua_State *L;
  int argv;
  lua_Integer argc;
  int has_version;
  kina_version v;
  const char *version_text;
} argvb;

/* Start an argv; `vidx` is the stack index of the optional version argument. */
static void argv_begin(argvb *b, lua_State *L, int vidx) {
  lua_settop(L, vidx); /* absent trailing arguments become nil, so indexes stay put */
  b->L = L;
  b->argc = 0;
  b->has_version = !lua_isnoneornil(L, vidx);
  b->version_text = NULL;
  if (b->has_version) {
    b->v = check_version(L, vidx, "version");
    b->version_text = lua_tostring(L, vidx);
  }
  lua_newtable(L);
  b->argv = lua_gettop(L);
}

static void push_arg(argvb *b, const char *s) {
  lua_pushstring(b->L, s);
  lua_rawseti(b->L, b->argv, ++b->argc);
}

static void push_argf(argvb *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(b->L, fmt, ap);
  va_end(ap);
  lua_rawseti(b->L, b->argv, ++b->argc);
}

static int argv_end(argvb *b) {
  lua_pushvalue(b->L, b->argv);
  return 1;
}

/* Raise when a version was given and lacks `f`; `what` names the option asking for it. */
static void need(argvb *b, enum kina_feature f, const char *what) {
  if (!b->has_version || kina_version_has(b->v, f)) return;
  const kina_feature_threshold *t = &kina_feature_thresholds[f];
  luaL_error(b->L, "%s: %s needs container %d.%d.%d or newer (this is %s)", what, t->what, (int)t->major,
             (int)t->minor, (int)t->patch, b->version_text);
}

/* A string argument free of NUL bytes (argv strings end at NUL). */
static const char *check_arg_string(lua_State *L, int idx, const char *what, size_t *len) {
  size_t n;
  if (lua_type(L, idx) != LUA_TSTRING) luaL_error(L, "%s: must be a string, not %s", what, luaL_typename(L, idx));
  const char *s = lua_tolstring(L, idx, &n);
  if (strlen(s) != n) luaL_error(L, "%s: contains a NUL byte", what);
  if (len) *len = n;
  return s;
}

static const char *check_container_name(lua_State *L, int idx, const char *what) {
  size_t len;
  const char *s = check_arg_string(L, idx, what, &len);
  if (!kina_valid_container_name(s, len))
    luaL_error(L, "%s: \"%s\" is not a container name (2 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit)",
               what, s);
  return s;
}

static const char *check_network_name(lua_State *L, int idx, const char *what) {
  size_t len;
  const char *s = check_arg_string(L, idx, what, &len);
  if (!kina_valid_network_name(s, len))
    luaL_error(L, "%s: \"%s\" is not a network name (lower-case letters, digits, '.', '_' and '-'; up to 63)", what, s);
  return s;
}

/* Image references: non-empty, no whitespace, no leading '-' (it would read as an option). */
static const char *check_image_ref(lua_State *L, int idx, const char *what) {
  size_t len;
  const char *s = check_arg_string(L, idx, what, &len);
  int ok = len > 0 && s[0] != '-';
  for (size_t i = 0; ok && i < len; i++) ok = (unsigned char)s[i] > ' ' && s[i] != 127;
  if (!ok) luaL_error(L, "%s: \"%s\" is not an image reference", what, s);
  return s;
}

typedef const char *(*name_check)(lua_State *L, int idx, const char *what);

/* Append one name (a string) or several (a non-empty array) from the argument at `idx`. */
static void push_names(argvb *b, int idx, const char *what, name_check check) {
  lua_State *L = b->L;
  if (lua_type(L, idx) == LUA_TSTRING) {
    push_arg(b, check(L, idx, what));
    return;
  }
  if (lua_type(L, idx) != LUA_TTABLE) luaL_error(L, "%s: must be a string or an array of strings, not %s", what, luaL_typename(L, idx));
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (n == 0) luaL_error(L, "%s: must name at least one", what);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    lua_pushfstring(L, "%s[%I]", what, i);
    push_arg(b, check(L, -2, lua_tostring(L, -1)));
    lua_pop(L, 2);
  }
}

/* The options table at `idx` (nil allowed): raises on unknown keys. Returns 1 when present. */
static int options(lua_State *L, int idx, const char *what, const char *const allowed[]) {
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  kina_check_fields(L, idx, what, allowed);
  return 1;
}

/* apple.argv_version() -> {"--version"}  (works offline on every release, §3.8) */
static int l_argv_version(lua_State *L) {
  argvb b;
  argv_begin(&b, L, 1);
  push_arg(&b, "--version");
  return argv_end(&b);
}

/* apple.argv_system_status(version) -> {"system", "status"[, "--format", "json"]}
 * The version is required: --format exists from 0.10.0 (§2.8, §3.7). */
static int l_argv_system_status(lua_State *L) {
  argvb b;
  if (lua_isnoneornil(L, 1)) return luaL_error(L, "version: is required (system status --format needs 0.10.0)");
  argv_begin(&b, L, 1);
  need(&b, KINA_F_SYSTEM_STATUS, "argv_system_status");
  push_arg(&b, "system");
  push_arg(&b, "status");
  if (kina_version_has(b.v, KINA_F_STATUS_FORMAT)) {
    push_arg(&b, "--format");
    push_arg(&b, "json");
  }
  return argv_end(&b);
}

/* apple.argv_list([version]) -> {"list", "--all", "--format", "json"}
 * Always --all: before 0.10 JSON mode listed everything anyway, after it honours --all (§3.3). */
static int l_argv_list(lua_State *L) {
  argvb b;
  argv_begin(&b, L, 1);
  push_arg(&b, "list");
  push_arg(&b, "--all");
  push_arg(&b, "--format");
  push_arg(&b, "json");
  return argv_end(&b);
}

/* apple.argv_start(name [, version]) -> {"start", name} */
static int l_argv_start(lua_State *L) {
  argvb b;
  argv_begin(&b, L, 2);
  push_arg(&b, "start");
  push_arg(&b, check_container_name(L, 1, "name"));
  return argv_end(&b);
}

/* apple.argv_stop(names [, {time = seconds}] [, version]) -> {"stop", ["--time", N,] names...}
 * The default time is 5 s, short for systemd; the caller picks (§5.2). */
static int l_argv_stop(lua_State *L) {
  static const char *const allowed[] = {"time", NULL};
  argvb b;
  argv_begin(&b, L, 3);
  push_arg(&b, "stop");
  if (options(L, 2, "stop options", allowed)) {
    lua_Integer t = kina_opt_integer_field(L, 2, "stop options", "time", -1);
    if (lua_getfield(L, 2, "time") != LUA_TNIL && t < 0) luaL_error(L, "stop options: time must be 0 or more seconds");
    lua_pop(L, 1);
    if (t >= 0) {
      push_arg(&b, "--time");
      push_argf(&b, "%I", t);
    }
  }
  push_names(&b, 1, "names", check_container_name);
  return argv_end(&b);
}

/* Signals as Apple parses them: "SIGTERM", "TERM", a number, "RTMIN+3" (§2.2, cz Signal.swift). */
static int valid_signal(const char *s, size_t len) {
  size_t i = 0;
  if (len == 0 || len > 16) return 0;
  if (s[0] >= '0' && s[0] <= '9') {
    for (; i < len; i++)
      if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
  }
  for (; i < len && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')); i++) {}
  if (i == 0) return 0;
  if (i < len && (s[i] == '+' || s[i] == '-')) i++;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {}
  return i == len;
}

/* apple.argv_kill(name [, signal] [, version]) -> {"kill", ["--signal", S,] name}
 * Without a signal Apple sends KILL. `signal` is a name ("TERM", "SIGRTMIN+3") or a number. */
static int l_argv_kill(lua_State *L) {
  argvb b;
  argv_begin(&b, L, 3);
  push_arg(&b, "kill");
  if (lua_type(L, 2) == LUA_TNUMBER) {
    int ok;
    lua_Integer n = lua_tointegerx(L, 2, &ok);
    if (!ok || n < 1 || n > 64) luaL_error(L, "signal: %s is not a signal number", lua_tostring(L, 2));
    push_arg(&b, "--signal");
    push_argf(&b, "%I", n);
  } else if (!lua_isnoneornil(L, 2)) {
    size_t len;
    const char *s = check_arg_string(L, 2, "signal", &len);
    if (!valid_signal(s, len)) luaL_error(L, "signal: \"%s\" is not a signal like \"TERM\" or \"SIGRTMIN+3\"", s);
    push_arg(&b, "--signal");
    push_arg(&b, s);
  }
  push_arg(&b, check_container_name(L, 1, "name"));
  return argv_end(&b);
}

/* apple.argv_delete(names [, {force = bool}] [, version]) -> {"delete", ["--force",] names...} */
static int l_argv_delete(lua_State *L) {
  static const char *const allowed[] = {"force", NULL};
  argvb b;
  argv_begin(&b, L, 3);
  push_arg(&b, "delete");
  if (options(L, 2, "delete options", allowed) && kina_opt_boolean_field(L, 2, "delete options", "force", 0))
    push_arg(&b, "--force");
  push_names(&b, 1, "names", check_container_name);
  return argv_end(&b);
}

/* apple.argv_inspect(names [, version]) -> {"inspect", names...}
 * Before 1.0.0 a missing name printed `[]` with exit 0; after, it fails (§2.2). */
static int l_argv_inspect(lua_State *L) {
  argvb b;
  argv_begin(&b, L, 2);
  push_arg(&b, "inspect");
  push_names(&b, 1, "names", check_container_name);
  return argv_end(&b);
}

/* apple.argv_exec(name, cmd_argv [, {interactive, env, user, workdir}] [, version])
 *   -> {"exec", ["-i",] ["--user", U,] ["--workdir", W,] ["-e", "K=V" (sorted by key) ...,] name, cmd...}
 * Options must precede the name, and Apple takes everything after it as the command; there
 * is no "--" separator (it would become the executable, §2.2). Stdin is connected only with
 * -i (piping works with -i and no -t). */
static int l_argv_exec(lua_State *L) {
  static const char *const allowed[] = {"interactive", "env", "user", "workdir", NULL};
  argvb b;
  argv_begin(&b, L, 4);
  const char *name = check_container_name(L, 1, "name");
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
  if (n == 0) luaL_error(L, "cmd_argv: must hold the command to run");
  push_arg(&b, "exec");
  if (options(L, 3, "exec options", allowed)) {
    if (kina_opt_boolean_field(L, 3, "exec options", "interactive", 0)) push_arg(&b, "-i");
    const char *user = kina_opt_string_field(L, 3, "exec options", "user", NULL);
    if (user) {
      if (!*user || user[0] == '-') luaL_error(L, "exec options: user \"%s\" is not a user, uid or uid:gid", user);
      push_arg(&b, "--user");
      push_arg(&b, user);
    }
    const char *workdir = kina_opt_string_field(L, 3, "exec options", "workdir", NULL);
    if (workdir) {
      if (workdir[0] != '/') luaL_error(L, "exec options: workdir \"%s\" must be an absolute path", workdir);
      push_arg(&b, "--workdir");
      push_arg(&b, workdir);
    }
    int t = lua_getfield(L, 3, "env");
    if (t == LUA_TTABLE) {
      int env = lua_gettop(L);
      lua_pushnil(L);
      while (lua_next(L, env)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
          luaL_error(L, "exec options: env must map names to strings");
        const char *k = lua_tostring(L, -2);
        if (!*k || strchr(k, '=')) luaL_error(L, "exec options: env name \"%s\" must be non-empty without '='", k);
        lua_pop(L, 1);
      }
      size_t count;
      const char **keys = kina_sorted_keys(L, env, &count);
      for (size_t i = 0; i < count; i++) {
        lua_getfield(L, env, keys[i]);
        push_arg(&b, "-e");
        push_argf(&b, "%s=%s", keys[i], lua_tostring(L, -1));
        lua_pop(L, 1);
      }
      lua_pop(L, 1); /* keys */
    } else if (t != LUA_TNIL) {
      luaL_error(L, "exec options: field 'env' must be a table, not %s", lua_typename(L, t));
    }
    lua_pop(L, 1);
  }
  push_arg(&b, name);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 2, i);
    lua_pushfstring(L, "cmd_argv[%I]", i);
    push_arg(&b, check_arg_string(L, -2, lua_tostring(L, -1), NULL));
    lua_pop(L, 2);
  }
  return argv_end(&b);
}

/* apple.argv_logs(name [, {follow, tail, boot}] [, version])
 *   -> {"logs", ["--boot",] ["--follow",] ["-n", N,] name}   (-n has no long form, §2.2) */
static int l_argv_logs(lua_State *L) {
  static const char *const allowed[] = {"follow", "tail", "boot", NULL};
  argvb b;
  argv_begin(&b, L, 3);
  push_arg(&b, "logs");
  if (options(L, 2, "logs options", allowed)) {
    if (kina_opt_boolean_field(L, 2, "logs options", "boot", 0)) push_arg(&b, "--boot");
    if (kina_opt_boolean_field(L, 2, "logs options", "follow", 0)) push_arg(&b, "--follow");
    lua_Integer tail = kina_opt_integer_field(L, 2, "logs options", "tail", -1);
    if (lua_getfield(L, 2, "tail") != LUA_TNIL && tail < 0) luaL_error(L, "logs options: tail must be 0 or more lines");
    lua_pop(L, 1);
    if (tail >= 0) {
      push_arg(&b, "-n");
      push_argf(&b, "%I", tail);
    }
  }
  push_arg(&b, check_container_name(L, 1, "name"));
  return argv_end(&b);
}

/* An IPv4 CIDR "a.b.c.d/n" — what `network create --subnet` takes (§2.4). */
static int valid_cidr4(const char *s) {
  int parts = 0;
  const char *p = s;
  for (;;) {
    int digits = 0, value = 0;
    while (*p >= '0' && *p <= '9' && digits < 4) value = value * 10 + (*p++ - '0'), digits++;
    if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && p[-digits] == '0')) return 0;
    if (++parts == 4) break;
    if (*p++ != '.') return 0;
  }
  if (*p++ != '/') return 0;
  int digits = 0, prefix = 0;
  while (*p >= '0' && *p <= '9' && digits < 3) prefix = prefix * 10 + (*p++ - '0'), digits++;
  return digits > 0 && *p == '\0' && prefix <= 32;
}

/* Network label keys follow Apple's ResourceLabels: lower-case DNS-like segments, optionally
 * '/'-separated, ≤ 128; "key=value" ≤ 4096 (§2.4). */
static int valid_resource_label_key(const char *s, size_t len) {
  if (len == 0 || len > 128) return 0;
  int at_start = 1; /* of a dot- or slash-separated part */
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) at_start = 0;
    else if (c == '-') {
      if (at_start) return 0;
    } else if (c == '.' || c == '/') {
      if (at_start || s[i - 1] == '-') return 0;
      at_start = 1;
    } else return 0;
  }
  return !at_start && s[len - 1] != '-';
}

/* apple.argv_network_create(name [, {subnet, labels}] [, version])
 *   -> {"network", "create", ["--label", "k=v" (sorted) ...,] ["--subnet", CIDR,] name}
 * Networks exist from 0.2.0 and only on macOS 26 (§2.4); --label from 0.5.0, --subnet 0.6.0. */
static int l_argv_network_create(lua_State *L) {
  static const char *const allowed[] = {"subnet", "labels", NULL};
  argvb b;
  argv_begin(&b, L, 3);
  const char *name = check_network_name(L, 1, "name");
  need(&b, KINA_F_NETWORK, "argv_network_create");
  push_arg(&b, "network");
  push_arg(&b, "create");
  if (options(L, 2, "network options", allowed)) {
    int t = lua_getfield(L, 2, "labels");
    if (t == LUA_TTABLE) {
      int labels = lua_gettop(L);
      lua_pushnil(L);
      while (lua_next(L, labels)) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
          luaL_error(L, "network options: labels must map strings to strings");
        size_t klen, vlen;
        const char *k = lua_tolstring(L, -2, &klen);
        const char *v = lua_tolstring(L, -1, &vlen);
        if (!valid_resource_label_key(k, klen))
          luaL_error(L, "network options: label key \"%s\" must be lower-case letters, digits, '-', '.' or '/' (at most 128)", k);
        if (strchr(v, '=') || strlen(v) != vlen) luaL_error(L, "network options: label \"%s\" has a value with '=' or NUL", k);
        if (klen + 1 + vlen > 4096) luaL_error(L, "network options: label \"%s\" is longer than 4096 characters", k);
        lua_pop(L, 1);
      }
      size_t count;
      const char **keys = kina_sorted_keys(L, labels, &count);
      if (count) need(&b, KINA_F_NETWORK_LABELS, "network options: labels");
      for (size_t i = 0; i < count; i++) {
        lua_getfield(L, labels, keys[i]);
        push_arg(&b, "--label");
        push_argf(&b, "%s=%s", keys[i], lua_tostring(L, -1));
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    } else if (t != LUA_TNIL) {
      luaL_error(L, "network options: field 'labels' must be a table, not %s", lua_typename(L, t));
    }
    lua_pop(L, 1);
    const char *subnet = kina_opt_string_field(L, 2, "network options", "subnet", NULL);
    if (subnet) {
      if (!valid_cidr4(subnet)) luaL_error(L, "network options: subnet \"%s\" is not an IPv4 CIDR like 10.89.0.0/24", subnet);
      need(&b, KINA_F_NETWORK_SUBNET, "network options: subnet");
      push_arg(&b, "--subnet");
      push_arg(&b, subnet);
    }
  }
  push_arg(&b, name);
  return argv_end(&b);
}

/* apple.argv_network_delete(names [, version]) -> {"network", "delete", names...} */
static int l_argv_network_delete(lua_State *L) {
  argvb b;
  argv_begin(&b, L, 2);
  need(&b, KINA_F_NETWORK, "argv_network_delete");
  push_arg(&b, "network");
  push_arg(&b, "delete");
  push_names(&b, 1, "names", check_network_name);
  return argv_end(&b);
}

/* apple.argv_network_list([version]) -> {"network", "list", "--format", "json"} */
static int l_argv_network_list(lua_State *L) {
  argvb b;
  argv_begin(&b, L, 1);
  need(&b, KINA_F_NETWORK, "argv_network_list");
  push_arg(&b, "network");
  push_arg(&b, "list");
  push_arg(&b, "--format");
  push_arg(&b, "json");
  return argv_end(&b);
}

/* apple.argv_network_inspect(names [, version]) -> {"network", "inspect", names...} */
static int l_argv_network_inspect(lua_State *L) {
  argvb b;
  argv_begin(&b, L, 2);
  need(&b, KINA_F_NETWORK, "argv_network_inspect");
  push_arg(&b, "network");
  push_arg(&b, "inspect");
  push_names(&b, 1, "names", check_network_name);
  return argv_end(&b);
}

/* The image commands are `image ...` on every release: before 0.5.0 the group was `images`
 * with `image` as an alias (§1 0.5.0, ImagesCommand.swift). */

/* apple.argv_image_inspect(refs [, version]) -> {"image", "inspect", refs...} */
static int l_argv_image_inspect(lua_State *L) {
  argvb b;
  argv_begin(&b, L, 2);
  push_arg(&b, "image");
  push_arg(&b, "inspect");
  push_names(&b, 1, "refs", check_image_ref);
  return argv_end(&b);
}

static const char *check_platform(lua_State *L, const char *what, const char *platform) {
  size_t len = strlen(platform);
  int slashes = 0, ok = len > 6 && strncmp(platform, "linux/", 6) == 0;
  for (size_t i = 0; ok && i < len; i++) {
    char c = platform[i];
    if (c == '/') ok = ++slashes <= 2 && i + 1 < len && platform[i + 1] != '/';
    else ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  }
  if (!ok) luaL_error(L, "%s: platform \"%s\" is not like \"linux/arm64\"", what, platform);
  return platform;
}

/* apple.argv_image_pull(ref [, {platform, scheme}] [, version])
 *   -> {"image", "pull", ["--scheme", S,] ["--platform", P,] ref}
 * `scheme` ("http"|"https", both known to every release, §2.3) is passed as given. Without it,
 * from 1.3.0 on a registry `--scheme auto` used to reach over http gets `--scheme http`: 1.3.0
 * removed auto and defaults to https (updates-2026-12 §1), so a plain-HTTP local registry
 * (localhost:5001) fails otherwise. Before 1.3.0 the default, auto, picks it by itself. */
static int l_argv_image_pull(lua_State *L) {
  static const char *const allowed[] = {"platform", "scheme", NULL};
  argvb b;
  argv_begin(&b, L, 3);
  size_t len;
  const char *ref = check_image_ref(L, 1, "ref");
  lua_tolstring(L, 1, &len);
  push_arg(&b, "image");
  push_arg(&b, "pull");
  const char *platform = NULL, *scheme = NULL;
  if (options(L, 2, "pull options", allowed)) {
    platform = kina_opt_string_field(L, 2, "pull options", "platform", NULL);
    scheme = kina_opt_string_field(L, 2, "pull options", "scheme", NULL);
    if (scheme && strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
      luaL_error(L, "pull options: scheme \"%s\" is not \"http\" or \"https\"", scheme);
  }
  if (!scheme && b.has_version && kina_version_has(b.v, KINA_F_SCHEME_NO_AUTO) && kina_registry_was_auto_http(ref, len))
    scheme = "http";
  if (scheme) {
    push_arg(&b, "--scheme");
    push_arg(&b, scheme);
  }
  if (platform) {
    push_arg(&b, "--platform");
    push_arg(&b, check_platform(L, "pull options", platform));
  }
  push_arg(&b, ref);
  return argv_end(&b);
}

/* apple.argv_image_save(refs [, {platform, output}] [, version])
 *   -> {"image", "save", ["--platform", P,] ["--output", PATH,] refs...}
 * Without `output` the archive goes to stdout (0.7.0+); several refs need 0.5.0. A single
 * platform avoids kind's multi-platform import problem (kind-and-peers §11 item 7). */
static int l_argv_image_save(lua_State *L) {
  static const char *const allowed[] = {"platform", "output", NULL};
  argvb b;
  argv_begin(&b, L, 3);
  push_arg(&b, "image");
  push_arg(&b, "save");
  const char *output = NULL;
  if (options(L, 2, "save options", allowed)) {
    const char *platform = kina_opt_string_field(L, 2, "save options", "platform", NULL);
    if (platform) {
      push_arg(&b, "--platform");
      push_arg(&b, check_platform(L, "save options", platform));
    }
    output = kina_opt_string_field(L, 2, "save options", "output", NULL);
    if (output) {
      if (!*output || output[0] == '-') luaL_error(L, "save options: output \"%s\" is not a file path", output);
      push_arg(&b, "--output");
      push_arg(&b, output);
    }
  }
  if (!output) need(&b, KINA_F_IMAGE_STREAM, "save options: output");
  lua_Integer before = b.argc;
  push_names(&b, 1, "refs", check_image_ref);
  if (b.argc - before > 1) need(&b, KINA_F_IMAGE_SAVE_MANY, "refs");
  return argv_end(&b);
}

/* apple.argv_image_load([path] [, version]) -> {"image", "load", "--input", path} or
 * {"image", "load"} to read the archive from stdin (0.7.0+). */
static int l_argv_image_load(lua_State *L) {
  argvb b;
  argv_begin(&b, L, 2);
  push_arg(&b, "image");
  push_arg(&b, "load");
  if (lua_isnoneornil(L, 1)) {
    need(&b, KINA_F_IMAGE_STREAM, "path");
  } else {
    size_t len;
    const char *path = check_arg_string(L, 1, "path", &len);
    if (len == 0 || path[0] == '-') luaL_error(L, "path: \"%s\" is not a file path", path);
    push_arg(&b, "--input");
    push_arg(&b, path);
  }
  return argv_end(&b);
}

/* ------------------------------------------------------------------------------------------
 * JSON → records. `decoded` is what the caller's JSON decoder made of the CLI's output:
 * JSON null is a lightuserdata (cjson.null) and counts as absent; numbers may be floats. */

/* Push t[key] (t at `idx`) and return its type, with null (lightuserdata) read as nil. */
static int jget(lua_State *L, int idx, const char *key) {
  if (idx == 0 || lua_type(L, idx) != LUA_TTABLE) {
    lua_pushnil(L);
    return LUA_TNIL;
  }
  int t = lua_getfield(L, idx, key);
  if (t == LUA_TLIGHTUSERDATA) {
    lua_pop(L, 1);
    lua_pushnil(L);
    return LUA_TNIL;
  }
  return t;
}

/* t[key] when it is a table: its absolute stack index (pushed), else 0 (nothing pushed). */
static int jtable(lua_State *L, int idx, const char *key) {
  if (jget(L, idx, key) == LUA_TTABLE) return lua_gettop(L);
  lua_pop(L, 1);
  return 0;
}

/* Element i (1-based) of the array at idx when it is a table: its index (pushed), else 0. */
static int jelement(lua_State *L, int idx, lua_Integer i) {
  if (idx == 0) return 0;
  if (lua_rawgeti(L, idx, i) == LUA_TTABLE) return lua_gettop(L);
  lua_pop(L, 1);
  return 0;
}

/* t[key] when it is a string (anchored by t), else NULL. */
static const char *jstring(lua_State *L, int idx, const char *key) {
  const char *s = jget(L, idx, key) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1);
  return s;
}

/* t[key] as an integer (8080.0 → 8080); 0 when absent or not a number. */
static int jinteger(lua_State *L, int idx, const char *key, lua_Integer *out) {
  int ok = 0;
  if (jget(L, idx, key) == LUA_TNUMBER) {
    if (lua_isinteger(L, -1)) *out = lua_tointeger(L, -1), ok = 1;
    else {
      lua_Number n = lua_tonumber(L, -1);
      ok = lua_numbertointeger(n, out);
    }
  }
  lua_pop(L, 1);
  return ok;
}

static void set_string(lua_State *L, int rec, const char *key, const char *value) {
  if (!value) return;
  lua_pushstring(L, value);
  lua_setfield(L, rec, key);
}

static void set_integer(lua_State *L, int rec, const char *key, int present, lua_Integer value) {
  if (!present) return;
  lua_pushinteger(L, value);
  lua_setfield(L, rec, key);
}

/* Set rec[key] to `address` without its "/prefix" (CIDR → address). */
static void set_address(lua_State *L, int rec, const char *key, const char *cidr) {
  if (!cidr || !*cidr) return;
  const char *slash = strchr(cidr, '/');
  lua_pushlstring(L, cidr, slash ? (size_t)(slash - cidr) : strlen(cidr));
  lua_setfield(L, rec, key);
}

/* Copy the string→string pairs of the table t[key] into rec[out_key] (always a table). */
static void set_labels(lua_State *L, int rec, const char *out_key, int idx, const char *key) {
  lua_newtable(L);
  int labels = jtable(L, idx, key);
  if (labels) {
    lua_pushnil(L);
    while (lua_next(L, labels)) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, labels - 1);
      } else lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_setfield(L, rec, out_key);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, long long m, long long d) {
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  long long yoe = y - era * 400;
  long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int read_digits(const char **p, int n, long long *out) {
  long long v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return 1;
}

/* ISO-8601 "2026-08-08T17:02:11Z" (fraction and ±HH:MM offsets allowed) → Unix seconds. */
static int parse_iso8601(const char *s, lua_Integer *out) {
  long long y, mo, d, h, mi, sec, oh = 0, om = 0;
  const char *p = s;
  if (!read_digits(&p, 4, &y) || *p++ != '-' || !read_digits(&p, 2, &mo) || *p++ != '-' ||
      !read_digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
    return 0;
  p++;
  if (!read_digits(&p, 2, &h) || *p++ != ':' || !read_digits(&p, 2, &mi) || *p++ != ':' || !read_digits(&p, 2, &sec))
    return 0;
  if (*p == '.' || *p == ',') {
    p++;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
  }
  int sign = 0;
  if (*p == 'Z' || *p == 'z') p++;
  else if (*p == '+' || *p == '-') {
    sign = *p++ == '+' ? 1 : -1;
    if (!read_digits(&p, 2, &oh)) return 0;
    if (*p == ':') p++;
    if (!read_digits(&p, 2, &om)) return 0;
  } else return 0;
  if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return 0;
  long long t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
  t -= sign * (oh * 3600 + om * 60);
  *out = (lua_Integer)t;
  return 1;
}

/* A date as Apple printed it: ISO-8601 (1.0.0+) or seconds since 2001 (before). */
static void set_date(lua_State *L, int rec, const char *out_key, int idx, const char *key) {
  lua_Integer t = 0;
  int type = jget(L, idx, key);
  int ok = 0;
  if (type == LUA_TSTRING) ok = parse_iso8601(lua_tostring(L, -1), &t);
  else if (type == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, -1);
    if (n > -1e12 && n < 1e12) {
      t = (lua_Integer)n; /* truncates toward zero; floor it */
      if ((lua_Number)t > n) t--;
      t += APPLE_EPOCH_OFFSET;
      ok = 1;
    }
  }
  lua_pop(L, 1);
  if (ok) {
    lua_pushinteger(L, t);
    lua_setfield(L, rec, out_key);
  }
}

/* The decoded top level must be an array; pushes nothing. */
static int check_decoded_array(lua_State *L, const char *what) {
  if (lua_type(L, 1) != LUA_TTABLE) {
    lua_pushnil(L);
    lua_pushfstring(L, "expected a JSON array of %s, got %s", what, luaL_typename(L, 1));
    return 2;
  }
  lua_pushnil(L);
  if (lua_rawlen(L, 1) == 0 && lua_next(L, 1)) { /* keys but no array part: a JSON object */
    lua_pop(L, 2);
    lua_pushnil(L);
    lua_pushfstring(L, "expected a JSON array of %s, got an object", what);
    return 2;
  }
  lua_settop(L, 1);
  return 0;
}

/* One published port: {hostAddress, hostPort, containerPort, proto, count?} (§3.2). */
static void parse_port(lua_State *L, int port, int out, lua_Integer *nout) {
  lua_Integer host, ctr, count;
  if (!jinteger(L, port, "hostPort", &host) || !jinteger(L, port, "containerPort", &ctr)) return;
  if (!jinteger(L, port, "count", &count)) count = 1;
  const char *proto = jstring(L, port, "proto");
  if (!proto) proto = jstring(L, port, "protocol");
  const char *addr = jstring(L, port, "hostAddress");
  lua_createtable(L, 0, 5);
  int rec = lua_gettop(L);
  set_string(L, rec, "host_address", addr ? addr : "0.0.0.0");
  set_integer(L, rec, "host_port", 1, host);
  set_integer(L, rec, "container_port", 1, ctr);
  set_string(L, rec, "protocol", proto ? proto : "tcp");
  set_integer(L, rec, "count", 1, count);
  lua_rawseti(L, out, ++*nout);
}

/* The array of JSON objects the caller decoded, parsed element by element with `one` into an
 * array of records; nil and a message for anything that is not such an array. */
static int parse_array(lua_State *L, const char *what, const char *singular,
                       int (*one)(lua_State *L, lua_Integer i, int el, int rec)) {
  lua_settop(L, 1);
  if (check_decoded_array(L, what)) return 2;
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  lua_createtable(L, (int)n, 0);
  int out = lua_gettop(L);
  for (lua_Integer i = 1; i <= n; i++) {
    int top = lua_gettop(L);
    int el = jelement(L, 1, i);
    if (!el) {
      lua_pushnil(L);
      lua_pushfstring(L, "%s %I is not a JSON object", singular, i);
      return 2;
    }
    lua_createtable(L, 0, 16);
    int rec = lua_gettop(L);
    if (one(L, i, el, rec)) return 2;
    lua_pushvalue(L, rec);
    lua_rawseti(L, out, i);
    lua_settop(L, top);
  }
  return 1;
}

/* One container of parse_containers: fill the record `rec` from the JSON object `el`, the i-th;
 * 0, or nil and a message pushed and 2. */
static int parse_container(lua_State *L, lua_Integer i, int el, int rec) {
  int cfg = jtable(L, el, "configuration");
  int status = jtable(L, el, "status"); /* 1.0+: an object; before: a string */

  const char *name = jstring(L, el, "id");
  if (!name) name = jstring(L, cfg, "id");
  if (!name) {
    lua_pushnil(L);
    lua_pushfstring(L, "container %I has no id", i);
    return 2;
  }
  set_string(L, rec, "name", name);
  const char *state = status ? jstring(L, status, "state") : jstring(L, el, "status");
  set_string(L, rec, "state", state ? state : "unknown");

  /* Networks: status.networks (1.0+) or top-level networks; first attachment wins. */
  int nets = status ? jtable(L, status, "networks") : 0;
  if (!nets) nets = jtable(L, el, "networks");
  int att = jelement(L, nets, 1);
  if (att) {
    const char *ip = jstring(L, att, "ipv4Address");
    set_address(L, rec, "ip", ip ? ip : jstring(L, att, "address"));
    set_address(L, rec, "ipv6", jstring(L, att, "ipv6Address"));
    set_string(L, rec, "network", jstring(L, att, "network"));
  } else {
    /* Not running: the configured attachment ([String] before 0.4, objects after). */
    int cnets = jtable(L, cfg, "networks");
    if (cnets) {
      int type = lua_rawgeti(L, cnets, 1);
      if (type == LUA_TSTRING) set_string(L, rec, "network", lua_tostring(L, -1));
      else if (type == LUA_TTABLE) set_string(L, rec, "network", jstring(L, lua_gettop(L), "network"));
      lua_pop(L, 1);
    }
  }

  set_labels(L, rec, "labels", cfg, "labels");
  int image = jtable(L, cfg, "image");
  set_string(L, rec, "image", jstring(L, image, "reference"));
  int desc = jtable(L, image, "descriptor");
  set_string(L, rec, "image_digest", jstring(L, desc, "digest"));
  set_date(L, rec, "created", cfg, "creationDate");
  if (status) set_date(L, rec, "started", status, "startedDate");
  else set_date(L, rec, "started", el, "startedDate");

  lua_newtable(L);
  int ports = lua_gettop(L);
  lua_Integer nports = 0;
  int published = jtable(L, cfg, "publishedPorts");
  if (published) {
    lua_Integer np = (lua_Integer)lua_rawlen(L, published);
    for (lua_Integer k = 1; k <= np; k++) {
      int port = jelement(L, published, k);
      if (port) {
        parse_port(L, port, ports, &nports);
        lua_pop(L, 1);
      }
    }
  }
  lua_settop(L, ports);
  lua_setfield(L, rec, "ports");

  int res = jtable(L, cfg, "resources");
  lua_Integer v = 0;
  int present = jinteger(L, res, "cpus", &v);
  set_integer(L, rec, "cpus", present, v);
  present = jinteger(L, res, "memoryInBytes", &v);
  set_integer(L, rec, "memory_bytes", present, v);
  int plat = jtable(L, cfg, "platform");
  const char *os = jstring(L, plat, "os"), *arch = jstring(L, plat, "architecture");
  const char *variant = jstring(L, plat, "variant");
  if (os && arch) {
    if (variant) lua_pushfstring(L, "%s/%s/%s", os, arch, variant);
    else lua_pushfstring(L, "%s/%s", os, arch);
    lua_setfield(L, rec, "platform");
  }
  return 0;
}

/* apple.parse_containers(decoded) -> {record, ...} | nil, message
 * From `list --all --format json` or `inspect`, any shape of §3.3:
 *   0.1–0.7  {status = "running", configuration, networks = {{address = "192.168.64.3/24"}}}
 *   0.8–0.12 the same with ipv4Address/ipv6Address and startedDate = seconds since 2001
 *   1.0+     {id, configuration = {..., creationDate}, status = {state, networks, startedDate}}
 * record = {name, state, ip, ipv6, labels, image, image_digest, created, started,
 *           ports = {{host_address, host_port, container_port, protocol, count}}, network,
 *           cpus, memory_bytes, platform}; absent values are nil. */
static int l_parse_containers(lua_State *L) {
  return parse_array(L, "containers", "container", parse_container);
}

/* One network of parse_networks: fill the record `rec` from the JSON object `el`, the i-th;
 * 0, or nil and a message pushed and 2. */
static int parse_network(lua_State *L, lua_Integer i, int el, int rec) {
  int cfg = jtable(L, el, "configuration");
  if (!cfg) cfg = jtable(L, el, "config");
  int status = jtable(L, el, "status");
  const char *name = jstring(L, cfg, "name");
  if (!name) name = jstring(L, cfg, "id");
  if (!name) name = jstring(L, el, "id");
  if (!name) {
    lua_pushnil(L);
    lua_pushfstring(L, "network %I has no name", i);
    return 2;
  }
  set_string(L, rec, "name", name);
  const char *subnet = jstring(L, status, "ipv4Subnet");
  if (!subnet) subnet = jstring(L, status, "address");
  if (!subnet) subnet = jstring(L, cfg, "ipv4Subnet");
  if (!subnet) subnet = jstring(L, cfg, "subnet");
  set_string(L, rec, "subnet", subnet);
  const char *gateway = jstring(L, status, "ipv4Gateway");
  set_string(L, rec, "gateway", gateway ? gateway : jstring(L, status, "gateway"));
  const char *v6 = jstring(L, status, "ipv6Subnet");
  set_string(L, rec, "subnet_v6", v6 ? v6 : jstring(L, cfg, "ipv6Subnet"));
  set_string(L, rec, "mode", jstring(L, cfg, "mode"));
  set_string(L, rec, "state", jstring(L, el, "state"));
  set_labels(L, rec, "labels", cfg, "labels");
  set_date(L, rec, "created", cfg, "creationDate");
  return 0;
}

/* apple.parse_networks(decoded) -> {{name, subnet, gateway, labels, mode, state?, subnet_v6?,
 * created?}, ...} | nil, message. Shapes (§3.5): 1.0+ {id, configuration = {name, mode,
 * ipv4Subnet?, labels}, status = {ipv4Subnet, ipv4Gateway}}; 0.8–0.12 {id, state, config = {id,
 * mode, ipv4Subnet?, labels}, status = {ipv4Subnet, ipv4Gateway}}; ≤ 0.7 config.subnet and
 * status = {address, gateway}. `state` exists only before 1.0 ("running"|"created"). */
static int l_parse_networks(lua_State *L) {
  return parse_array(L, "networks", "network", parse_network);
}

/* One image of parse_images: fill the record `rec` from the JSON object `el`, the i-th;
 * 0, or nil and a message pushed and 2. */
static int parse_image(lua_State *L, lua_Integer i, int el, int rec) {
  int cfg = jtable(L, el, "configuration");
  const char *ref = jstring(L, cfg, "name");
  if (!ref) ref = jstring(L, el, "reference");
  if (!ref) ref = jstring(L, el, "name");
  if (!ref) {
    lua_pushnil(L);
    lua_pushfstring(L, "image %I has no name", i);
    return 2;
  }
  int desc = jtable(L, cfg, "descriptor");
  if (!desc) desc = jtable(L, el, "descriptor");
  if (!desc) desc = jtable(L, el, "index");
  set_string(L, rec, "reference", ref);
  set_string(L, rec, "digest", jstring(L, desc, "digest"));
  return 0;
}

/* apple.parse_images(decoded) -> {{reference, digest}, ...} | nil, message. Shapes (§3.6):
 * 1.0+ {id, configuration = {name, descriptor = {digest}}, variants}; before 1.0 `image list`
 * gives {reference, descriptor = {digest}} and `image inspect` {name, index = {digest}}. */
static int l_parse_images(lua_State *L) {
  return parse_array(L, "images", "image", parse_image);
}

/* The bare X.Y.Z in `s` ("container-apiserver version 1.2.2 (build: …)" or "1.4.1"). */
static void set_version(lua_State *L, int rec, const char *key, const char *s) {
  kina_version v;
  size_t matched;
  if (!s) return;
  long at = kina_version_find(s, strlen(s), &v, &matched);
  if (at < 0) return;
  lua_pushlstring(L, s + at, matched);
  lua_setfield(L, rec, key);
}

/* apple.parse_system_status(decoded) -> {status, server_version?, client_version?, app_root?,
 *   install_root?, log_root?, containers_running?, containers_total?, images?} | nil, message
 * `system status --format json` in both shapes (§3.7; updates-2026-12 §1):
 *   0.10 – 1.3.x  {status, appRoot, installRoot, logRoot?, apiServerVersion = "container-apiserver
 *                 version 1.2.2 (build: …)", apiServerCommit, apiServerBuild, apiServerAppName}
 *   1.4.1+        {status, client = {appName, build, commit, version}, server = {…, version = "1.4.1"},
 *                 host = {…}, paths = {appRoot, installRoot, logRoot?}, resources = {containersRunning,
 *                 containersTotal, images}}; only {status} when the services are down.
 * Versions come back bare ("1.4.1"); keys kina does not read are ignored. */
static int l_parse_system_status(lua_State *L) {
  if (lua_type(L, 1) != LUA_TTABLE) {
    lua_pushnil(L);
    lua_pushfstring(L, "system status: expected a JSON object, got %s", luaL_typename(L, 1));
    return 2;
  }
  lua_settop(L, 1);
  const char *status = jstring(L, 1, "status");
  if (!status) {
    lua_pushnil(L);
    lua_pushliteral(L, "system status: no \"status\" in the CLI's JSON");
    return 2;
  }
  lua_newtable(L);
  int rec = lua_gettop(L);
  set_string(L, rec, "status", status);
  int server = jtable(L, 1, "server");
  int client = jtable(L, 1, "client");
  int paths = jtable(L, 1, "paths");
  int resources = jtable(L, 1, "resources");
  set_version(L, rec, "server_version", server ? jstring(L, server, "version") : jstring(L, 1, "apiServerVersion"));
  if (client) set_version(L, rec, "client_version", jstring(L, client, "version"));
  int roots = paths ? paths : 1;
  static const char *const root_keys[][2] = {{"app_root", "appRoot"}, {"install_root", "installRoot"}, {"log_root", "logRoot"}};
  for (size_t i = 0; i < sizeof root_keys / sizeof root_keys[0]; i++) {
    const char *root = jstring(L, roots, root_keys[i][1]);
    if (root && *root) set_string(L, rec, root_keys[i][0], root); /* "" when unregistered */
  }
  if (resources) {
    lua_Integer n = 0;
    int ok = jinteger(L, resources, "containersRunning", &n);
    set_integer(L, rec, "containers_running", ok, n);
    ok = jinteger(L, resources, "containersTotal", &n);
    set_integer(L, rec, "containers_total", ok, n);
    ok = jinteger(L, resources, "images", &n);
    set_integer(L, rec, "images", ok, n);
  }
  lua_pushvalue(L, rec);
  return 1;
}

/* ------------------------------------------------------------------------------------------
 * Error causes */

/* Case-insensitive substring search (texts were capitalised before 0.8.0, #945). */
static int contains(const char *hay, size_t hlen, const char *needle) {
  size_t n = strlen(needle);
  if (n > hlen) return 0;
  for (size_t i = 0; i + n <= hlen; i++) {
    size_t k = 0;
    while (k < n) {
      char a = hay[i + k], b = needle[k];
      if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
      if (a != b) break;
      k++;
    }
    if (k == n) return 1;
  }
  return 0;
}

/* Error texts of §4 (all versions) and of the node's tools, in the order they are tried:
 * specific before general ("image not found" before "not found", "apiserver is not running"
 * before "is not running"). Needles are lower-case. */
static const struct {
  const char *cause;
  const char *needle;
} error_texts[] = {
  {"service_not_running", "xpc connection error"},
  {"service_not_running", "ensure container system service has been started"},
  {"service_not_running", "apiserver is not running"},
  {"service_not_running", "plugins are unavailable"},
  /* XPCClient.send's own deadline (network list has 1 s: updates-2026-12 §1) */
  {"timeout", "xpc timeout for request to"},
  /* On macOS 15 `network` is not registered and is looked up as a plugin (§2, §2.4). */
  {"network_needs_macos26", "requires macos 26"},
  {"network_needs_macos26", "plugin 'container-network' not found"},
  {"unknown_option", "unknown option"},
  {"unknown_command", "plugin 'container-"},
  {"memory_too_low", "minimum memory amount allowed"},
  {"kernel_missing", "kernel file not found"},
  {"kernel_missing", "default kernel not configured"},
  {"kernel_missing", "default kernel not found"},
  {"kernel_missing", "kernel not found at"},
  {"port_permission", "binding to ports below 1024"},
  {"port_permission", "permission denied while binding to host port"},
  {"exec_not_found", "failed to find target executable"},
  {"exec_not_found", "executable file not found"},
  /* 1.2.0's read-only /proc/sys (kiac#14); sysctl's two wordings. */
  {"readonly_sysctl", "permission denied on key"},
  {"readonly_sysctl", "read-only file system"},
  /* iptables-nft on the 6.12.28 kernel without nf_tables (apple/container#2120, #1002). */
  {"nf_tables", "could not fetch rule set generation id"},
  {"nf_tables", "failed to initialize nft"},
  {"nf_tables", "nf_tables not"},
  {"not_found", "failed to delete one or more networks"},
  {"image_not_found", "image not found"},
  {"image_not_found", "failed with response: 404"},
  {"image_not_found", "manifest unknown"},
  {"registry", "failed with response:"},
  {"registry", "http request to"},
  {"name_taken", "already exists"},
  {"name_taken", "already exist:"},
  {"invalid_name", "is not a valid container id"},
  {"invalid_name", "is not a valid name"},
  {"not_running", "is not running"},
  /* `kill` of a stopped container (issue 10, from Apple's 1.2.2 source) */
  {"not_running", "no runtime client exists: container is stopped"},
  {"not_found", "not found"},
  {"not_found", "failed to delete one or more containers"},
};

/* apple.error_cause(stderr [, exit_code]) -> cause | nil
 * Classifies a failed CLI call; the hint for each cause is Lua's business. Exit 127 with no
 * other match is "exec_not_found" (the command did not exist in the node). */
static int l_error_cause(lua_State *L) {
  size_t len = 0;
  const char *text = luaL_optlstring(L, 1, "", &len);
  lua_Integer code = luaL_optinteger(L, 2, 0);
  for (size_t i = 0; i < sizeof error_texts / sizeof error_texts[0]; i++) {
    if (!contains(text, len, error_texts[i].needle)) continue;
    /* "read-only file system" means the sysctl case only when sysctl said it. */
    if (strcmp(error_texts[i].needle, "read-only file system") == 0 && !contains(text, len, "sysctl")) continue;
    if (code == 127 && strcmp(error_texts[i].cause, "not_found") == 0) break;
    lua_pushstring(L, error_texts[i].cause);
    return 1;
  }
  if (code == 127) {
    lua_pushliteral(L, "exec_not_found");
    return 1;
  }
  lua_pushnil(L);
  return 1;
}

int luaopen_kina_core_apple(lua_State *L);
int luaopen_kina_core_apple(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"parse_version", l_parse_version},
    {"compare_versions", l_compare_versions},
    {"features", l_features},
    {"argv_version", l_argv_version},
    {"argv_system_status", l_argv_system_status},
    {"argv_list", l_argv_list},
    {"argv_start", l_argv_start},
    {"argv_stop", l_argv_stop},
    {"argv_kill", l_argv_kill},
    {"argv_delete", l_argv_delete},
    {"argv_inspect", l_argv_inspect},
    {"argv_exec", l_argv_exec},
    {"argv_logs", l_argv_logs},
    {"argv_network_create", l_argv_network_create},
    {"argv_network_delete", l_argv_network_delete},
    {"argv_network_list", l_argv_network_list},
    {"argv_network_inspect", l_argv_network_inspect},
    {"argv_image_inspect", l_argv_image_inspect},
    {"argv_image_pull", l_argv_image_pull},
    {"argv_image_save", l_argv_image_save},
    {"argv_image_load", l_argv_image_load},
    {"parse_containers", l_parse_containers},
    {"parse_networks", l_parse_networks},
    {"parse_images", l_parse_images},
    {"parse_system_status", l_parse_system_status},
    {"error_cause", l_error_cause},
    {NULL, NULL},
  };
  luaL_newlib(L, funcs);
  lua_pushliteral(L, "kina.core.apple 1");
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
