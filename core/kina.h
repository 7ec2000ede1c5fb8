/* kina.h — helpers shared by the core modules, included by each (all static, as
 * luaposix's _helpers.c): strict option tables and the `nil, msg, code` convention. */
#ifndef KINA_H
#define KINA_H

#include <errno.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#define KINA_UNUSED(x) ((void)(x))

/* Raise unless every string key of the table at `idx` is in `allowed` (NULL-terminated).
 * `what` names the table in the message, e.g. "spawn options". */
static inline void kina_check_fields(lua_State *L, int idx, const char *what, const char *const allowed[]) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      luaL_error(L, "%s: unexpected non-string key (%s)", what, luaL_typename(L, -1));
    }
    const char *key = lua_tostring(L, -1);
    int known = 0;
    for (const char *const *a = allowed; *a; a++) {
      if (strcmp(*a, key) == 0) { known = 1; break; }
    }
    if (!known) luaL_error(L, "%s: unknown field '%s'", what, key);
  }
}

/* Field `key` of the table at `idx` as a string, or `def` when absent; raises naming the
 * field when it has another type. The string stays valid while the table is alive. */
static inline const char *kina_opt_string_field(lua_State *L, int idx, const char *what, const char *key,
                                         const char *def) {
  int t = lua_getfield(L, idx, key);
  const char *s = def;
  if (t == LUA_TSTRING) s = lua_tostring(L, -1);
  else if (t != LUA_TNIL) luaL_error(L, "%s: field '%s' must be a string, not %s", what, key, lua_typename(L, t));
  lua_pop(L, 1);
  return s;
}

static inline lua_Integer kina_opt_integer_field(lua_State *L, int idx, const char *what, const char *key,
                                          lua_Integer def) {
  int t = lua_getfield(L, idx, key);
  lua_Integer v = def;
  if (t == LUA_TNUMBER) {
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "%s: field '%s' must be an integer", what, key);
  } else if (t != LUA_TNIL) {
    luaL_error(L, "%s: field '%s' must be an integer, not %s", what, key, lua_typename(L, t));
  }
  lua_pop(L, 1);
  return v;
}

static inline double kina_opt_number_field(lua_State *L, int idx, const char *what, const char *key, double def) {
  int t = lua_getfield(L, idx, key);
  double v = def;
  if (t == LUA_TNUMBER) v = lua_tonumber(L, -1);
  else if (t != LUA_TNIL) luaL_error(L, "%s: field '%s' must be a number, not %s", what, key, lua_typename(L, t));
  lua_pop(L, 1);
  return v;
}

static inline int kina_opt_boolean_field(lua_State *L, int idx, const char *what, const char *key, int def) {
  int t = lua_getfield(L, idx, key);
  int v = def;
  if (t == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
  else if (t != LUA_TNIL) luaL_error(L, "%s: field '%s' must be a boolean, not %s", what, key, lua_typename(L, t));
  lua_pop(L, 1);
  return v;
}

/* Push the luv-style failure triple for errno `err`: nil, "ENOENT: <strerror> (<context>)", "ENOENT". */
static inline const char *kina_errno_name(int err);
static inline int kina_push_errno(lua_State *L, int err, const char *context) {
  const char *name = kina_errno_name(err);
  lua_pushnil(L);
  if (context) lua_pushfstring(L, "%s: %s (%s)", name, strerror(err), context);
  else lua_pushfstring(L, "%s: %s", name, strerror(err));
  lua_pushstring(L, name);
  return 3;
}

static inline const char *kina_errno_name(int err) {
  switch (err) {
#define KINA_E(n) case n: return #n;
    KINA_E(ENOENT) KINA_E(EACCES) KINA_E(EPERM) KINA_E(ENOEXEC) KINA_E(ENOTDIR) KINA_E(EISDIR)
    KINA_E(EEXIST) KINA_E(EAGAIN) KINA_E(EINTR) KINA_E(EINVAL) KINA_E(ENOMEM) KINA_E(EMFILE)
    KINA_E(ENFILE) KINA_E(EPIPE) KINA_E(ESRCH) KINA_E(ECHILD) KINA_E(E2BIG) KINA_E(ETXTBSY)
    KINA_E(ELOOP) KINA_E(ENAMETOOLONG) KINA_E(EBADF) KINA_E(ENOSPC) KINA_E(EROFS) KINA_E(EBUSY)
    KINA_E(EIO) KINA_E(ENOLCK) KINA_E(EDEADLK)
#undef KINA_E
    default: return "EUNKNOWN";
  }
}

#endif
