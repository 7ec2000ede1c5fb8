/* main.c — the `kina` host: a small program embedding Lua 5.4.
 *
 * It registers the core C modules in package.preload, points package.path at kina's Lua tree
 * (found relative to the executable, so build/kina runs from a checkout), and hands argv to
 * lua/kina/cli.lua. Invoked under the name `container` (build/sim/container is a link to it) it
 * runs the simulator of Apple's CLI instead.
 */
#if defined(__linux__)
#define _GNU_SOURCE
#elif defined(__APPLE__)
#define _DARWIN_C_SOURCE
#include <mach-o/dyld.h>
#endif

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define KINA_MODULE(name) int luaopen_kina_core_##name(lua_State *L);
#include "preload.h"
#undef KINA_MODULE

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* The real path of this executable, or 0. Tries the platform's own answer first, then argv[0]
 * (searched in PATH when it has no slash). */
static int executable_path(const char *argv0, char out[PATH_MAX]) {
  char candidate[PATH_MAX];
#if defined(__APPLE__)
  uint32_t size = sizeof candidate;
  if (_NSGetExecutablePath(candidate, &size) == 0 && realpath(candidate, out)) return 1;
#elif defined(__linux__) && !defined(KINA_PORTABLE)
  if (realpath("/proc/self/exe", out)) return 1;
#endif
  if (!argv0 || !*argv0) return 0;
  if (strchr(argv0, '/')) return realpath(argv0, out) != NULL;
  const char *path = getenv("PATH");
  while (path && *path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    if (len > 0 && len + strlen(argv0) + 2 < sizeof candidate) {
      memcpy(candidate, path, len);
      candidate[len] = '/';
      strcpy(candidate + len + 1, argv0);
      if (access(candidate, X_OK) == 0 && realpath(candidate, out)) return 1;
    }
    path = colon ? colon + 1 : NULL;
  }
  return 0;
}

static void parent_dir(char *path) {
  char *slash = strrchr(path, '/');
  if (slash && slash != path) *slash = '\0';
  else if (slash) slash[1] = '\0';
}

/* Where kina's Lua tree and scripts are: $KINA_HOME (a checkout), the checkout this binary was
 * built in (<root>/build/kina), or an installed prefix (<prefix>/bin/kina). Pushes a table
 * {root, lua_dir, scripts_dir, exe} on the stack. */
static void push_layout(lua_State *L, const char *argv0) {
  char exe[PATH_MAX] = "", root[PATH_MAX], probe[PATH_MAX + 64];
  int have_exe = executable_path(argv0, exe);
  lua_createtable(L, 0, 4);
  if (have_exe) {
    lua_pushstring(L, exe);
    lua_setfield(L, -2, "exe");
  }
  const char *home = getenv("KINA_HOME");
  if (home && *home) {
    snprintf(root, sizeof root, "%s", home);
  } else if (have_exe) {
    snprintf(root, sizeof root, "%s", exe);
    parent_dir(root); /* build/ or bin/ */
    parent_dir(root); /* checkout root or prefix */
  } else {
    return;
  }
  snprintf(probe, sizeof probe, "%s/lua/kina/cli.lua", root);
  if (file_exists(probe)) {
    lua_pushstring(L, root);
    lua_setfield(L, -2, "root");
    lua_pushfstring(L, "%s/lua", root);
    lua_setfield(L, -2, "lua_dir");
    lua_pushfstring(L, "%s/scripts", root);
    lua_setfield(L, -2, "scripts_dir");
    return;
  }
  snprintf(probe, sizeof probe, "%s/share/lua/5.4/kina/cli.lua", root);
  if (file_exists(probe)) {
    lua_pushstring(L, root);
    lua_setfield(L, -2, "root");
    lua_pushfstring(L, "%s/share/lua/5.4", root);
    lua_setfield(L, -2, "lua_dir");
    lua_pushfstring(L, "%s/share/lua/5.4/kina/scripts", root);
    lua_setfield(L, -2, "scripts_dir");
  }
  /* otherwise package.path as configured for this Lua finds kina, as for any installed rock */
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_tolstring(L, 1, NULL);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Runs in protected mode: set up paths and call the entry point; leaves the exit code. */
static int run(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  luaL_openlibs(L);

  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
#define KINA_MODULE(name)                            \
  lua_pushcfunction(L, luaopen_kina_core_##name);    \
  lua_setfield(L, -2, "kina.core." #name);
#include "preload.h"
#undef KINA_MODULE
  lua_pop(L, 1);

  push_layout(L, argv[0]);
  int layout = lua_gettop(L);
  if (lua_getfield(L, layout, "lua_dir") == LUA_TSTRING) {
    lua_getfield(L, -3, "path"); /* package.path */
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", lua_tostring(L, -2), lua_tostring(L, -2), lua_tostring(L, -1));
    lua_setfield(L, -5, "path");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  /* package.loaded["kina.host"] tells the Lua side where it runs from */
  lua_getfield(L, -2, "loaded");
  lua_pushvalue(L, layout);
  lua_setfield(L, -2, "kina.host");
  lua_pop(L, 1);

  const char *name = strrchr(argv[0], '/');
  name = name ? name + 1 : argv[0];
  int simulator = strcmp(name, "container") == 0;

  lua_getglobal(L, "require");
  lua_pushstring(L, simulator ? "kina.sim.main" : "kina.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc, 0);
  for (int i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  lua_call(L, 1, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("ERROR: cannot create a Lua state (out of memory)\n", stderr);
    return 1;
  }
  lua_pushcfunction(L, traceback);
  lua_pushcfunction(L, run);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 1);
  int code;
  if (status != LUA_OK) {
    /* The CLI reports its own errors; reaching here is a bug or a broken installation. */
    fprintf(stderr, "ERROR: %s\n", lua_tostring(L, -1));
    code = 1;
  } else if (lua_isinteger(L, -1)) {
    code = (int)lua_tointeger(L, -1);
  } else {
    code = lua_toboolean(L, -1) || lua_isnil(L, -1) ? 0 : 1;
  }
  fflush(stdout);
  lua_close(L); /* runs __gc: every runner kills and reaps what it still has */
  return code;
}
