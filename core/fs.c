/* fs.c — kina.core.fs: advisory file locks for state shared between processes.
 *
 * luv has no byte-range locking, and the simulator (and anything else kina runs in several
 * processes at once) needs a read-modify-write section that other processes respect. POSIX
 * fcntl() write locks work on both Linux and macOS and vanish when the process dies, so a
 * killed holder never leaves a stale lock behind.
 *
 * Caveat (POSIX semantics): fcntl locks belong to the process, not the descriptor. Two locks
 * on the same file taken by one process do not exclude each other, and unlocking either one
 * releases both. Callers take one lock per file per process. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "kina.h"

#define LOCK_MT "kina.core.fs.Lock"

typedef struct {
  int fd; /* -1 once unlocked */
} Lock;

static Lock *check_lock(lua_State *L) {
  return (Lock *)luaL_checkudata(L, 1, LOCK_MT);
}

/* Closing the descriptor drops the fcntl lock; explicit F_UNLCK first makes the release
 * independent of other descriptors this process may hold on the same file. */
static void release(Lock *lk) {
  if (lk->fd < 0) return;
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  (void)fcntl(lk->fd, F_SETLK, &fl);
  (void)close(lk->fd);
  lk->fd = -1;
}

static int open_lock_file(const char *path) {
  int fd;
  do {
    fd = open(path, O_RDWR | O_CREAT, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd >= 0) (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

static const char *const lock_fields[] = {"wait", NULL};

/* lock, err, code = fs.lock(path [, {wait = true}])
 * Takes an exclusive fcntl write lock on the whole of `path` (created 0644 if missing).
 * wait = false: fails with nil, "EAGAIN: ...", "EAGAIN" when another process holds it. */
static int fs_lock(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int wait = 1;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    kina_check_fields(L, 2, "lock options", lock_fields);
    wait = kina_opt_boolean_field(L, 2, "lock options", "wait", 1);
  }

  /* Userdata first, in the closed state, so a failure below leaks nothing. */
  Lock *lk = (Lock *)lua_newuserdatauv(L, sizeof(Lock), 0);
  lk->fd = -1;
  luaL_setmetatable(L, LOCK_MT);

  int fd = open_lock_file(path);
  if (fd < 0) return kina_push_errno(L, errno, path);

  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  int rc;
  do {
    rc = fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    (void)close(fd);
    /* POSIX allows either EACCES or EAGAIN for a conflicting lock; report one name. */
    if (err == EACCES) err = EAGAIN;
    return kina_push_errno(L, err, path);
  }
  lk->fd = fd;
  return 1;
}

/* true = lock:unlock()  — idempotent */
static int lock_unlock(lua_State *L) {
  release(check_lock(L));
  lua_pushboolean(L, 1);
  return 1;
}

/* held = lock:held() */
static int lock_held(lua_State *L) {
  lua_pushboolean(L, check_lock(L)->fd >= 0);
  return 1;
}

static int lock_gc(lua_State *L) {
  release(check_lock(L));
  return 0;
}

static int lock_tostring(lua_State *L) {
  Lock *lk = check_lock(L);
  lua_pushfstring(L, "kina.core.fs.Lock (%s)", lk->fd >= 0 ? "held" : "released");
  return 1;
}

static const luaL_Reg lock_meta[] = {
  {"__gc", lock_gc},
  {"__close", lock_gc},
  {"__tostring", lock_tostring},
  {NULL, NULL},
};

static const luaL_Reg lock_methods[] = {
  {"unlock", lock_unlock},
  {"held", lock_held},
  {NULL, NULL},
};

static const luaL_Reg fs_funcs[] = {
  {"lock", fs_lock},
  {NULL, NULL},
};

LUAMOD_API int luaopen_kina_core_fs(lua_State *L);
LUAMOD_API int luaopen_kina_core_fs(lua_State *L) {
  luaL_newmetatable(L, LOCK_MT);
  luaL_setfuncs(L, lock_meta, 0);
  luaL_newlib(L, lock_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, fs_funcs);
  return 1;
}
