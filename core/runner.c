/* runner.c — kina.core.runner: start argv processes and multiplex their pipes, exits and timeouts.
 *
 * A Runner owns a set of child processes. `runner:step(timeout)` waits (poll) for anything to
 * happen — output, stdin room, a child exit, a timeout, a watched signal — and returns events; the
 * Lua scheduler (lua/kina/async.lua) turns those into coroutine wake-ups. Policy (concurrency limits,
 * defaults, retries, line splitting) lives in Lua.
 *
 * Portability: the portable path (macOS, and `make PORTABLE=1`) learns of child exits through a
 * SIGCHLD handler writing to a self-pipe. On Linux, a pidfd per child is used instead when available
 * (no signal handler needed); that is only a fast path and falls back to the self-pipe.
 */
#if defined(__linux__)
#define _GNU_SOURCE
#elif defined(__APPLE__)
#define _DARWIN_C_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "kina.h"

#if defined(__linux__) && !defined(KINA_PORTABLE) && defined(SYS_pidfd_open)
#define KINA_USE_PIDFD 1
#endif

extern char **environ;

#define RUNNER_MT "kina.Runner"
#define PROCESS_MT "kina.Process"
#define READ_CHUNK 65536
#define READ_BUDGET (1 << 20)            /* bytes read per stream per step, so no stream starves others */
#define DEFAULT_LIMIT (16 * 1024 * 1024) /* captured bytes per stream unless the caller says otherwise */

enum { MODE_CAPTURE, MODE_STREAM, MODE_DISCARD, MODE_INHERIT, MODE_PIPE, MODE_STDOUT };
enum { UV_RUNNER = 1, UV_STDIN = 2, UV_ARGV = 3, PROCESS_UVS = 3 };

typedef struct buffer {
  char *data;
  size_t len, cap, limit, dropped;
} buffer;

typedef struct runner runner;

typedef struct process {
  struct process *next, *prev; /* links in the runner's list while attached */
  runner *owner;               /* NULL once detached (delivered or closed) */
  pid_t pid;
  int pidfd;
  int out_fd, err_fd, in_fd;   /* parent ends of the pipes, -1 when closed */
  int pipe_fd;                 /* stdout="pipe": read end kept for a consumer process */
  int out_mode, err_mode;
  buffer out, err;
  const char *in_data;         /* stdin string, kept alive through uservalue UV_STDIN */
  size_t in_len, in_off;
  int exited, status, reaped;
  int timed_out, cancelled;
  double started, finished;
  double deadline, kill_at, grace, drain, drain_until;
  int done;
} process;

struct runner {
  process *head;
  int count;
  int wake_r, wake_w;
  int devnull;     /* /dev/null, opened once: stdin and discarded output of children */
  int slot;        /* index in the signal registry, -1 when not registered */
  int watching;    /* report SIGINT/SIGTERM as events */
  int closed;
  int pending_signals[4];
  int npending;
  struct pollfd *pfds;
  process **owners;
  size_t pcap;
};

/* ------------------------------------------------------------------------------------------ */
/* Signal plumbing. Signal dispositions are process-wide, so this is the one place with static
 * state: the write ends of every live runner's self-pipe (fd + 1; 0 = free), and the handlers we
 * replaced, so ours can chain to them (libuv, for one, installs its own SIGCHLD handler). */

#define MAX_RUNNERS 64
static volatile sig_atomic_t registry[MAX_RUNNERS];
static struct sigaction previous_chld, previous_int, previous_term;
static int int_watchers;

static void chain(const struct sigaction *prev, int sig, siginfo_t *info, void *ctx) {
  if (prev->sa_flags & SA_SIGINFO) {
    if (prev->sa_sigaction) prev->sa_sigaction(sig, info, ctx);
  } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN && prev->sa_handler) {
    prev->sa_handler(sig);
  }
}

static void on_signal(int sig, siginfo_t *info, void *ctx) {
  int saved = errno;
  unsigned char byte = (unsigned char)sig;
  for (int i = 0; i < MAX_RUNNERS; i++) {
    int fd = (int)registry[i] - 1;
    if (fd >= 0) {
      ssize_t n = write(fd, &byte, 1); /* a full pipe already means "wake up" */
      (void)n;
    }
  }
  if (sig == SIGCHLD) chain(&previous_chld, sig, info, ctx);
  errno = saved;
}

static int install(int sig, struct sigaction *previous) {
  struct sigaction sa, cur;
  if (sigaction(sig, NULL, &cur) != 0) return -1;
  if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_signal) return 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, previous) != 0) return -1;
  return 0;
}

/* Re-checked before every wait: if another library replaced our SIGCHLD handler, take it back
 * and chain to theirs, so neither loses exits. */
static void ensure_chld_handler(void) {
  install(SIGCHLD, &previous_chld);
}

static int register_runner(runner *r) {
  for (int i = 0; i < MAX_RUNNERS; i++) {
    if (registry[i] == 0) {
      registry[i] = r->wake_w + 1;
      r->slot = i;
      return 0;
    }
  }
  return -1;
}

static void unregister_runner(runner *r) {
  if (r->slot >= 0) registry[r->slot] = 0;
  r->slot = -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers */

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void close_fd(int *fd) {
  if (*fd >= 0) {
    close(*fd);
    *fd = -1;
  }
}

static int set_flags(int fd, int nonblock) {
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return -1;
  if (nonblock) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
  }
  return 0;
}

/* A CLOEXEC pipe; `nonblock_end` (0 read, 1 write, -1 none) is the parent's end. */
static int make_pipe(int fds[2], int nonblock_end) {
#if defined(__linux__) && !defined(KINA_PORTABLE)
  if (pipe2(fds, O_CLOEXEC) < 0) return -1;
  if (nonblock_end >= 0 && set_flags(fds[nonblock_end], 1) < 0) goto fail;
  return 0;
#else
  if (pipe(fds) < 0) return -1;
  if (set_flags(fds[0], nonblock_end == 0) < 0 || set_flags(fds[1], nonblock_end == 1) < 0) goto fail;
  return 0;
#endif
fail: {
    int saved = errno;
    close(fds[0]);
    close(fds[1]);
    errno = saved;
    return -1;
  }
}

/* Resolve the program as execvp would (PATH of this process when it has no slash) into `out`,
 * so that "not found" and "not executable" are reported the same way everywhere — some
 * posix_spawn implementations (and valgrind) only learn of them in the child, which exits 127. */
static int resolve_program(const char *name, char *out, size_t size) {
  if (!*name) return ENOENT;
  if (strchr(name, '/')) {
    if (strlen(name) >= size) return ENAMETOOLONG;
    strcpy(out, name);
    return access(out, X_OK) == 0 ? 0 : errno;
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  int err = ENOENT;
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    const char *dir = len ? path : ".";
    size_t dlen = len ? len : 1;
    if (dlen + 1 + strlen(name) < size) {
      memcpy(out, dir, dlen);
      out[dlen] = '/';
      strcpy(out + dlen + 1, name);
      if (access(out, X_OK) == 0) {
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return 0;
        err = EACCES;
      } else if (errno == EACCES) {
        err = EACCES;
      }
    }
    if (!colon) break;
    path = colon + 1;
  }
  return err;
}

static const struct {
  const char *name;
  int sig;
} signal_names[] = {
  {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ABRT", SIGABRT}, {"KILL", SIGKILL},
  {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
  {"TERM", SIGTERM}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
  {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"ILL", SIGILL}, {"TRAP", SIGTRAP}, {"SYS", SIGSYS},
  {NULL, 0},
};

static const char *signal_name(int sig) {
  for (int i = 0; signal_names[i].name; i++)
    if (signal_names[i].sig == sig) return signal_names[i].name;
  return NULL;
}

/* A signal given as a name ("TERM", "SIGTERM") or a number; raises on anything else. */
static int check_signal(lua_State *L, int idx, int def) {
  if (lua_isnoneornil(L, idx)) return def;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = luaL_checkinteger(L, idx);
    if (n <= 0 || n > 64) luaL_argerror(L, idx, "signal number out of range");
    return (int)n;
  }
  const char *s = luaL_checkstring(L, idx);
  if (strncmp(s, "SIG", 3) == 0) s += 3;
  for (int i = 0; signal_names[i].name; i++)
    if (strcmp(signal_names[i].name, s) == 0) return signal_names[i].sig;
  return luaL_argerror(L, idx, lua_pushfstring(L, "unknown signal '%s'", lua_tostring(L, idx)));
}

static void buffer_append(buffer *b, const char *data, size_t n) {
  size_t room = b->limit > b->len ? b->limit - b->len : 0;
  size_t take = n < room ? n : room;
  if (take > 0) {
    if (b->len + take > b->cap) {
      size_t cap = b->cap ? b->cap : 4096;
      while (cap < b->len + take) cap *= 2;
      if (cap > b->limit) cap = b->limit;
      char *grown = realloc(b->data, cap);
      if (!grown) { /* out of memory: keep what we have, count the rest as dropped */
        b->dropped += n;
        return;
      }
      b->data = grown;
      b->cap = cap;
    }
    memcpy(b->data + b->len, data, take);
    b->len += take;
  }
  b->dropped += n - take;
}

static void buffer_free(buffer *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Process bookkeeping */

static void link_process(runner *r, process *p) {
  p->owner = r;
  p->prev = NULL;
  p->next = r->head;
  if (r->head) r->head->prev = p;
  r->head = p;
  r->count++;
}

static void unlink_process(process *p) {
  runner *r = p->owner;
  if (!r) return;
  if (p->prev) p->prev->next = p->next;
  else r->head = p->next;
  if (p->next) p->next->prev = p->prev;
  p->next = p->prev = NULL;
  p->owner = NULL;
  r->count--;
}

static void record_exit(process *p, int status) {
  p->exited = 1;
  p->reaped = 1;
  p->status = status;
  p->finished = now_seconds();
  p->drain_until = p->finished + p->drain;
  p->kill_at = 0;
  close_fd(&p->pidfd);
}

static void try_reap(process *p) {
  if (p->reaped) return;
  int status;
  pid_t got;
  do got = waitpid(p->pid, &status, WNOHANG);
  while (got < 0 && errno == EINTR);
  if (got == p->pid) record_exit(p, status);
  else if (got < 0 && errno == ECHILD) record_exit(p, 0); /* someone else reaped it: unknown status */
}

/* Kill the whole process group and wait: used by close/__gc, where we may not return without
 * leaving a zombie behind. */
static void kill_and_reap(process *p) {
  if (!p->reaped) {
    kill(-p->pid, SIGKILL);
    kill(p->pid, SIGKILL);
    int status;
    pid_t got;
    do got = waitpid(p->pid, &status, 0);
    while (got < 0 && errno == EINTR);
    if (got == p->pid) record_exit(p, status);
    else record_exit(p, 0);
    p->cancelled = 1;
  }
  close_fd(&p->out_fd);
  close_fd(&p->err_fd);
  close_fd(&p->in_fd);
  close_fd(&p->pipe_fd);
  close_fd(&p->pidfd);
  p->done = 1;
}

static void read_stream(lua_State *L, process *p, int *fd, buffer *b, int mode, const char *name,
                        int active, int events, int *nev) {
  char chunk[READ_CHUNK];
  size_t budget = READ_BUDGET;
  while (*fd >= 0 && budget > 0) {
    ssize_t n = read(*fd, chunk, sizeof chunk);
    if (n > 0) {
      budget -= (size_t)n < budget ? (size_t)n : budget;
      if (mode == MODE_STREAM) {
        /* event {process, "stdout"|"stderr", chunk} */
        lua_createtable(L, 3, 0);
        lua_pushlightuserdata(L, p);
        lua_rawget(L, active); /* the runner's active table: lightuserdata -> Process */
        lua_rawseti(L, -2, 1);
        lua_pushstring(L, name);
        lua_rawseti(L, -2, 2);
        lua_pushlstring(L, chunk, (size_t)n);
        lua_rawseti(L, -2, 3);
        lua_rawseti(L, events, ++*nev);
      } else {
        buffer_append(b, chunk, (size_t)n);
      }
    } else if (n == 0) {
      close_fd(fd);
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else {
      close_fd(fd);
    }
  }
}

static void write_stdin(process *p) {
  while (p->in_fd >= 0 && p->in_off < p->in_len) {
    ssize_t n = write(p->in_fd, p->in_data + p->in_off, p->in_len - p->in_off);
    if (n > 0) p->in_off += (size_t)n;
    else if (n < 0 && errno == EINTR) continue;
    else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    else break; /* EPIPE: the child stopped reading; that is its business */
  }
  close_fd(&p->in_fd);
}

/* ------------------------------------------------------------------------------------------ */
/* Runner */

static runner *check_runner(lua_State *L, int idx) {
  runner *r = luaL_checkudata(L, idx, RUNNER_MT);
  if (r->closed) luaL_error(L, "runner is closed");
  return r;
}

static process *check_process(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, PROCESS_MT);
}

/* runner.new() -> Runner */
static int runner_new(lua_State *L) {
  runner *r = lua_newuserdatauv(L, sizeof *r, 1);
  memset(r, 0, sizeof *r);
  r->wake_r = r->wake_w = r->devnull = -1;
  r->slot = -1;
  r->closed = 1; /* until the resources exist, so __gc on a half-built runner is harmless */
  luaL_setmetatable(L, RUNNER_MT);
  lua_newtable(L); /* active processes: lightuserdata -> Process, keeps them alive while running */
  lua_setiuservalue(L, -2, 1);
  int fds[2];
  if (make_pipe(fds, 0) < 0 || set_flags(fds[1], 1) < 0) return kina_push_errno(L, errno, "self-pipe");
  r->wake_r = fds[0];
  r->wake_w = fds[1];
  if (register_runner(r) < 0) {
    close_fd(&r->wake_r);
    close_fd(&r->wake_w);
    return luaL_error(L, "too many runners alive at once (at most %d)", MAX_RUNNERS);
  }
  r->closed = 0;
  /* A child that exits while we write its stdin must not kill us with SIGPIPE: write() reports
   * EPIPE instead. Only the default disposition is changed; a host's own handler is kept. */
  struct sigaction cur;
  if (sigaction(SIGPIPE, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
  return 1;
}

static void stop_watching(runner *r) {
  if (r->watching) {
    r->watching = 0;
    if (--int_watchers == 0) {
      sigaction(SIGINT, &previous_int, NULL);
      sigaction(SIGTERM, &previous_term, NULL);
    }
  }
}

static int runner_close_impl(lua_State *L, runner *r) {
  if (r->closed) return 0;
  r->closed = 1;
  while (r->head) {
    process *p = r->head;
    kill_and_reap(p);
    unlink_process(p);
  }
  stop_watching(r);
  unregister_runner(r);
  close_fd(&r->wake_r);
  close_fd(&r->wake_w);
  close_fd(&r->devnull);
  free(r->pfds);
  free(r->owners);
  r->pfds = NULL;
  r->owners = NULL;
  KINA_UNUSED(L);
  return 0;
}

/* runner:close() — kill (SIGKILL, whole process group) and reap everything still running. */
static int runner_close(lua_State *L) {
  runner *r = luaL_checkudata(L, 1, RUNNER_MT);
  runner_close_impl(L, r);
  return 0;
}

/* runner:active() -> integer: processes spawned and not yet delivered as finished */
static int runner_active(lua_State *L) {
  runner *r = check_runner(L, 1);
  lua_pushinteger(L, r->count);
  return 1;
}

/* runner:watch_signals(on) — report SIGINT/SIGTERM as {false, "signal", "INT"} events instead of
 * letting them kill the process; restores the previous handlers when the last watcher stops. */
static int runner_watch_signals(lua_State *L) {
  runner *r = check_runner(L, 1);
  int on = lua_toboolean(L, 2);
  if (on && !r->watching) {
    if (int_watchers == 0) {
      if (install(SIGINT, &previous_int) < 0 || install(SIGTERM, &previous_term) < 0)
        return kina_push_errno(L, errno, "sigaction");
    }
    int_watchers++;
    r->watching = 1;
  } else if (!on) {
    stop_watching(r);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* runner:kill_all([signal="TERM"]) -> integer: signal every running process group */
static int runner_kill_all(lua_State *L) {
  runner *r = check_runner(L, 1);
  int sig = check_signal(L, 2, SIGTERM);
  int n = 0;
  for (process *p = r->head; p; p = p->next) {
    if (!p->exited) {
      p->cancelled = 1;
      if (kill(-p->pid, sig) == 0 || kill(p->pid, sig) == 0) n++;
    }
  }
  lua_pushinteger(L, n);
  return 1;
}

static int parse_mode(lua_State *L, const char *what, const char *key, const char *def, int allow_pipe) {
  const char *s = kina_opt_string_field(L, 2, what, key, def);
  if (strcmp(s, "capture") == 0) return MODE_CAPTURE;
  if (strcmp(s, "stream") == 0) return MODE_STREAM;
  if (strcmp(s, "discard") == 0) return MODE_DISCARD;
  if (strcmp(s, "inherit") == 0) return MODE_INHERIT;
  if (allow_pipe == 1 && strcmp(s, "pipe") == 0) return MODE_PIPE;
  if (allow_pipe == 2 && strcmp(s, "stdout") == 0) return MODE_STDOUT;
  return luaL_error(L, "%s: field '%s' must be one of capture, stream, discard, inherit%s (got '%s')", what,
                    key, allow_pipe == 1 ? ", pipe" : allow_pipe == 2 ? ", stdout" : "", s);
}

static const char *const spawn_fields[] = {
  "argv", "env", "clear_env", "cwd", "stdin", "stdin_file", "stdin_from", "stdin_inherit", "stdout",
  "stderr", "stdout_limit", "stderr_limit", "timeout", "grace", "drain", NULL,
};

/* runner:spawn{argv={...}, env={K=V|false}, clear_env, cwd, stdin=STRING | stdin_file=PATH |
 *   stdin_from=Process (its stdout="pipe") | stdin_inherit=true, stdout="capture"|"stream"|
 *   "discard"|"inherit"|"pipe", stderr="capture"|"stream"|"discard"|"inherit"|"stdout",
 *   stdout_limit, stderr_limit (bytes), timeout, grace, drain (seconds)}
 *   -> Process | nil, "ENOENT: ...", "ENOENT" */
static int runner_spawn(lua_State *L) {
  runner *r = check_runner(L, 1);
  const char *what = "spawn options";
  luaL_checktype(L, 2, LUA_TTABLE);
  kina_check_fields(L, 2, what, spawn_fields);

  /* argv: strings only, kept on the stack (slot argv_idx) while we build char*[] */
  if (lua_getfield(L, 2, "argv") != LUA_TTABLE) return luaL_error(L, "%s: field 'argv' must be a table of strings", what);
  int argv_idx = lua_gettop(L);
  lua_Integer argc = (lua_Integer)luaL_len(L, argv_idx);
  if (argc < 1) return luaL_error(L, "%s: field 'argv' must not be empty", what);
  char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(argc + 1), 0);
  for (lua_Integer i = 1; i <= argc; i++) {
    if (lua_rawgeti(L, argv_idx, i) != LUA_TSTRING)
      return luaL_error(L, "%s: argv[%d] must be a string, not %s", what, (int)i, luaL_typename(L, -1));
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (strlen(s) != len) return luaL_error(L, "%s: argv[%d] contains a NUL byte", what, (int)i);
    argv[i - 1] = (char *)s; /* the string is anchored by the argv table */
    lua_pop(L, 1);
  }
  argv[argc] = NULL;

  /* environment: the parent's, with overrides; built as a table of "K=V" strings to anchor them */
  int clear_env = kina_opt_boolean_field(L, 2, what, "clear_env", 0);
  int env_type = lua_getfield(L, 2, "env");
  if (env_type != LUA_TNIL && env_type != LUA_TTABLE) return luaL_error(L, "%s: field 'env' must be a table", what);
  int env_idx = lua_gettop(L);
  char **envp = environ;
  if (env_type == LUA_TTABLE || clear_env) {
    lua_newtable(L);
    int strings = lua_gettop(L);
    int n = 0;
    if (!clear_env) {
      for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (env_type == LUA_TTABLE && eq) {
          lua_pushlstring(L, *e, (size_t)(eq - *e));
          int overridden = lua_rawget(L, env_idx) != LUA_TNIL;
          lua_pop(L, 1);
          if (overridden) continue;
        }
        lua_pushstring(L, *e);
        lua_rawseti(L, strings, ++n);
      }
    }
    if (env_type == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, env_idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) return luaL_error(L, "%s: env keys must be strings", what);
        const char *k = lua_tostring(L, -2);
        if (!*k || strchr(k, '=')) return luaL_error(L, "%s: env name '%s' is not valid", what, k);
        if (lua_type(L, -1) == LUA_TSTRING) {
          lua_pushfstring(L, "%s=%s", k, lua_tostring(L, -1));
          lua_rawseti(L, strings, ++n);
        } else if (!(lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
          return luaL_error(L, "%s: env.%s must be a string (or false to unset)", what, k);
        }
        lua_pop(L, 1);
      }
    }
    envp = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, strings, i);
      envp[i - 1] = (char *)lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    envp[n] = NULL;
  }

  const char *cwd = kina_opt_string_field(L, 2, what, "cwd", NULL);
  int out_mode = parse_mode(L, what, "stdout", "capture", 1);
  int err_mode = parse_mode(L, what, "stderr", "capture", 2);
  lua_Integer out_limit = kina_opt_integer_field(L, 2, what, "stdout_limit", DEFAULT_LIMIT);
  lua_Integer err_limit = kina_opt_integer_field(L, 2, what, "stderr_limit", DEFAULT_LIMIT);
  if (out_limit < 0 || err_limit < 0) return luaL_error(L, "%s: output limits must not be negative", what);
  double timeout = kina_opt_number_field(L, 2, what, "timeout", 0);
  double grace = kina_opt_number_field(L, 2, what, "grace", 5);
  double drain = kina_opt_number_field(L, 2, what, "drain", 0.2);
  if (timeout < 0 || grace < 0 || drain < 0) return luaL_error(L, "%s: timeout, grace and drain must not be negative", what);

  /* stdin: exactly one source */
  int sources = 0;
  size_t in_len = 0;
  const char *in_data = NULL;
  int t = lua_getfield(L, 2, "stdin");
  if (t == LUA_TSTRING) { in_data = lua_tolstring(L, -1, &in_len); sources++; }
  else if (t != LUA_TNIL) return luaL_error(L, "%s: field 'stdin' must be a string", what);
  int stdin_data_idx = lua_gettop(L);
  const char *in_file = kina_opt_string_field(L, 2, what, "stdin_file", NULL);
  if (in_file) sources++;
  process *producer = NULL;
  if (lua_getfield(L, 2, "stdin_from") != LUA_TNIL) {
    producer = luaL_testudata(L, -1, PROCESS_MT);
    if (!producer) return luaL_error(L, "%s: field 'stdin_from' must be a Process", what);
    if (producer->pipe_fd < 0)
      return luaL_error(L, "%s: stdin_from needs a process spawned with stdout=\"pipe\" whose pipe is not taken yet", what);
    sources++;
  }
  lua_pop(L, 1);
  int in_inherit = kina_opt_boolean_field(L, 2, what, "stdin_inherit", 0);
  if (in_inherit) sources++;
  if (sources > 1) return luaL_error(L, "%s: give at most one of stdin, stdin_file, stdin_from, stdin_inherit", what);

  char program[4096];
  int not_runnable = resolve_program(argv[0], program, sizeof program);
  if (not_runnable) return kina_push_errno(L, not_runnable, argv[0]);

  /* The Process userdata exists, closed, before any resource is acquired. */
  process *p = lua_newuserdatauv(L, sizeof *p, PROCESS_UVS);
  memset(p, 0, sizeof *p);
  p->pid = -1;
  p->pidfd = p->out_fd = p->err_fd = p->in_fd = p->pipe_fd = -1;
  p->done = 1;
  luaL_setmetatable(L, PROCESS_MT);
  int proc_idx = lua_gettop(L);

  int child_in = -1, child_out = -1, child_err = -1, devnull = r->devnull;
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  int err = 0;
  const char *err_ctx = NULL;

  if (in_data) {
    if (make_pipe(in_pipe, 1) < 0) { err = errno; err_ctx = "stdin pipe"; goto fail; }
    child_in = in_pipe[0];
  } else if (in_file) {
    child_in = open(in_file, O_RDONLY | O_CLOEXEC);
    if (child_in < 0) { err = errno; err_ctx = in_file; goto fail; }
  } else if (producer) {
    child_in = producer->pipe_fd;
  }
  if ((!in_inherit && child_in < 0) || out_mode == MODE_DISCARD || err_mode == MODE_DISCARD) {
    if (devnull < 0) {
      devnull = r->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
      if (devnull < 0) { err = errno; err_ctx = "/dev/null"; goto fail; }
    }
  }
  if (out_mode == MODE_CAPTURE || out_mode == MODE_STREAM || out_mode == MODE_PIPE) {
    if (make_pipe(out_pipe, out_mode == MODE_PIPE ? -1 : 0) < 0) { err = errno; err_ctx = "stdout pipe"; goto fail; }
    child_out = out_pipe[1];
  } else if (out_mode == MODE_DISCARD) {
    child_out = devnull;
  }
  if (err_mode == MODE_CAPTURE || err_mode == MODE_STREAM) {
    if (make_pipe(err_pipe, 0) < 0) { err = errno; err_ctx = "stderr pipe"; goto fail; }
    child_err = err_pipe[1];
  } else if (err_mode == MODE_DISCARD) {
    child_err = devnull;
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
#if defined(__APPLE__)
  flags |= POSIX_SPAWN_CLOEXEC_DEFAULT; /* close every fd not set up below */
#endif
  posix_spawnattr_setflags(&attr, flags);
  posix_spawnattr_setpgroup(&attr, 0); /* own process group: timeouts and Ctrl-C kill the whole tree */
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  if (!in_inherit) posix_spawn_file_actions_adddup2(&fa, child_in >= 0 ? child_in : devnull, 0);
#if defined(__APPLE__)
  else posix_spawn_file_actions_addinherit_np(&fa, 0);
#endif
  if (child_out >= 0) posix_spawn_file_actions_adddup2(&fa, child_out, 1);
#if defined(__APPLE__)
  else posix_spawn_file_actions_addinherit_np(&fa, 1);
#endif
  if (err_mode == MODE_STDOUT) posix_spawn_file_actions_adddup2(&fa, 1, 2);
  else if (child_err >= 0) posix_spawn_file_actions_adddup2(&fa, child_err, 2);
#if defined(__APPLE__)
  else posix_spawn_file_actions_addinherit_np(&fa, 2);
#endif
  if (cwd) posix_spawn_file_actions_addchdir_np(&fa, cwd);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* fds others opened without CLOEXEC */
#endif
  pid_t pid;
  int rc = posix_spawn(&pid, program, &fa, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) { err = rc; err_ctx = argv[0]; goto fail; }

  /* The child has its copies; keep only the parent ends. */
  p->pid = pid;
  p->started = now_seconds();
  p->done = 0;
  if (child_in >= 0 && child_in != in_pipe[0]) close(child_in); /* file or producer's pipe */
  if (producer) producer->pipe_fd = -1;
  close_fd(&in_pipe[0]);
  close_fd(&out_pipe[1]);
  close_fd(&err_pipe[1]);
  p->in_fd = in_pipe[1];
  if (out_mode == MODE_PIPE) p->pipe_fd = out_pipe[0];
  else p->out_fd = out_pipe[0];
  p->err_fd = err_pipe[0];
  p->out_mode = out_mode;
  p->err_mode = err_mode;
  p->out.limit = (size_t)out_limit;
  p->err.limit = (size_t)err_limit;
  p->in_data = in_data;
  p->in_len = in_len;
  if (p->in_fd >= 0 && in_len == 0) close_fd(&p->in_fd);
  p->timed_out = 0;
  p->grace = grace;
  p->drain = drain;
  p->deadline = timeout > 0 ? p->started + timeout : 0;
#if defined(KINA_USE_PIDFD)
  p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (p->pidfd >= 0) set_flags(p->pidfd, 0);
#endif
  if (p->pidfd < 0) ensure_chld_handler();

  /* uservalues: the runner (kept alive by its processes), the stdin string, argv */
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, proc_idx, UV_RUNNER);
  lua_pushvalue(L, stdin_data_idx);
  lua_setiuservalue(L, proc_idx, UV_STDIN);
  lua_pushvalue(L, argv_idx);
  lua_setiuservalue(L, proc_idx, UV_ARGV);
  /* the runner's active table keeps the process alive until its exit is delivered */
  lua_getiuservalue(L, 1, 1);
  lua_pushlightuserdata(L, p);
  lua_pushvalue(L, proc_idx);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  link_process(r, p);
  lua_pushvalue(L, proc_idx);
  return 1;

fail:
  close_fd(&in_pipe[0]);
  close_fd(&in_pipe[1]);
  close_fd(&out_pipe[0]);
  close_fd(&out_pipe[1]);
  close_fd(&err_pipe[0]);
  close_fd(&err_pipe[1]);
  if (in_file && child_in >= 0) close(child_in);
  return kina_push_errno(L, err, err_ctx);
}

static double earliest(double a, double b) {
  if (a <= 0) return b;
  if (b <= 0) return a;
  return a < b ? a : b;
}

/* Timeouts and escalations due by `now`. */
static void apply_deadlines(process *p, double now) {
  if (p->exited) return;
  if (p->deadline > 0 && now >= p->deadline) {
    p->deadline = 0;
    p->timed_out = 1;
    kill(-p->pid, SIGTERM);
    p->kill_at = now + p->grace;
  }
  if (p->kill_at > 0 && now >= p->kill_at) {
    p->kill_at = 0;
    kill(-p->pid, SIGKILL);
    kill(p->pid, SIGKILL);
  }
}

static void check_done(process *p, double now) {
  if (p->done || !p->exited) return;
  if (p->out_fd >= 0 || p->err_fd >= 0) {
    /* Something else (a grandchild) still holds the pipes: give up after the drain period. */
    if (now < p->drain_until) return;
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
  }
  close_fd(&p->in_fd);
  p->done = 1;
}

static void ensure_poll_capacity(runner *r, size_t n) {
  if (n <= r->pcap) return;
  size_t cap = r->pcap ? r->pcap : 16;
  while (cap < n) cap *= 2;
  struct pollfd *pfds = realloc(r->pfds, cap * sizeof *pfds);
  if (pfds) r->pfds = pfds;
  process **owners = realloc(r->owners, cap * sizeof *owners);
  if (owners) r->owners = owners;
  if (pfds && owners) r->pcap = cap;
}

static void drain_wakeups(runner *r) {
  unsigned char bytes[64];
  ssize_t n;
  while ((n = read(r->wake_r, bytes, sizeof bytes)) > 0) {
    for (ssize_t i = 0; i < n; i++) {
      int sig = bytes[i];
      if ((sig == SIGINT || sig == SIGTERM) && r->watching && r->npending < 4) r->pending_signals[r->npending++] = sig;
    }
  }
}

/* runner:step([timeout]) -> events
 * Waits at most `timeout` seconds (nil: until something happens; 0: just look) and returns an
 * array of events: {process, "exit"} once a process has exited and its output is collected,
 * {process, "stdout"|"stderr", chunk} for streamed output, {false, "signal", "INT"|"TERM"} for a
 * watched signal. A finished process is delivered once, then the runner lets go of it. */
static int runner_step(lua_State *L) {
  runner *r = check_runner(L, 1);
  double timeout = luaL_optnumber(L, 2, -1);
  lua_settop(L, 2);
  lua_getiuservalue(L, 1, 1); /* 3: active table */
  lua_newtable(L);            /* 4: events */
  int events = 4, nev = 0;
  double start = now_seconds();
  int polled = 0;

  for (;;) {
    double now = now_seconds();
    size_t n = 0;
    double wake_at = 0;
    int any_pidless = 0;
    for (process *p = r->head; p; p = p->next) {
      try_reap(p);
      apply_deadlines(p, now);
      check_done(p, now);
      if (p->done) continue;
      if (!p->exited) {
        wake_at = earliest(wake_at, earliest(p->deadline, p->kill_at));
        if (p->pidfd < 0) any_pidless = 1;
      } else {
        wake_at = earliest(wake_at, p->drain_until);
      }
    }
    int have_done = 0;
    for (process *p = r->head; p; p = p->next) have_done |= p->done;
    if (have_done || r->npending || nev > 0) break;
    if (timeout >= 0 && polled && now >= start + timeout) break;

    if (any_pidless) ensure_chld_handler();
    ensure_poll_capacity(r, (size_t)r->count * 4 + 1);
    r->pfds[n].fd = r->wake_r;
    r->pfds[n].events = POLLIN;
    r->owners[n++] = NULL;
    for (process *p = r->head; p && n + 4 <= r->pcap; p = p->next) {
      if (p->done) continue;
      if (p->out_fd >= 0) { r->pfds[n].fd = p->out_fd; r->pfds[n].events = POLLIN; r->owners[n++] = p; }
      if (p->err_fd >= 0) { r->pfds[n].fd = p->err_fd; r->pfds[n].events = POLLIN; r->owners[n++] = p; }
      if (p->in_fd >= 0) { r->pfds[n].fd = p->in_fd; r->pfds[n].events = POLLOUT; r->owners[n++] = p; }
      if (p->pidfd >= 0) { r->pfds[n].fd = p->pidfd; r->pfds[n].events = POLLIN; r->owners[n++] = p; }
    }
    if (r->count == 0 && !r->watching && timeout < 0) break; /* nothing could ever wake us */

    int ms;
    double limit = timeout >= 0 ? start + timeout : 0;
    double until = earliest(limit, wake_at);
    if (until > 0) {
      double left = until - now;
      ms = left <= 0 ? 0 : (int)(left * 1000.0 + 0.999);
    } else {
      ms = -1;
    }
    int ready = poll(r->pfds, (nfds_t)n, ms);
    polled = 1;
    if (ready < 0 && errno != EINTR) return luaL_error(L, "poll: %s", strerror(errno));
    if (ready > 0) {
      for (size_t i = 0; i < n; i++) {
        if (!r->pfds[i].revents) continue;
        process *p = r->owners[i];
        if (!p) { drain_wakeups(r); continue; }
        int fd = r->pfds[i].fd;
        if (fd == p->out_fd) read_stream(L, p, &p->out_fd, &p->out, p->out_mode, "stdout", 3, events, &nev);
        else if (fd == p->err_fd) read_stream(L, p, &p->err_fd, &p->err, p->err_mode, "stderr", 3, events, &nev);
        else if (fd == p->in_fd) write_stdin(p);
      }
    } else if (ready < 0) {
      drain_wakeups(r);
    }
    /* loop: reap, apply deadlines, collect finished processes; return once there is an event */
  }

  for (int i = 0; i < r->npending; i++) {
    lua_createtable(L, 3, 0);
    lua_pushboolean(L, 0);
    lua_rawseti(L, -2, 1);
    lua_pushstring(L, "signal");
    lua_rawseti(L, -2, 2);
    lua_pushstring(L, signal_name(r->pending_signals[i]));
    lua_rawseti(L, -2, 3);
    lua_rawseti(L, events, ++nev);
  }
  r->npending = 0;

  process *p = r->head;
  while (p) {
    process *next = p->next;
    if (p->done) {
      lua_createtable(L, 2, 0);
      lua_pushlightuserdata(L, p);
      lua_rawget(L, 3);
      lua_rawseti(L, -2, 1);
      lua_pushstring(L, "exit");
      lua_rawseti(L, -2, 2);
      lua_rawseti(L, events, ++nev);
      unlink_process(p);
      lua_pushlightuserdata(L, p);
      lua_pushnil(L);
      lua_rawset(L, 3);
    }
    p = next;
  }
  lua_pushvalue(L, events);
  return 1;
}

static int runner_tostring(lua_State *L) {
  runner *r = luaL_checkudata(L, 1, RUNNER_MT);
  if (r->closed) lua_pushstring(L, "kina.Runner (closed)");
  else lua_pushfstring(L, "kina.Runner (%d active)", r->count);
  return 1;
}

static int runner_gc(lua_State *L) {
  runner *r = luaL_checkudata(L, 1, RUNNER_MT);
  return runner_close_impl(L, r);
}

/* ------------------------------------------------------------------------------------------ */
/* Process */

/* process:pid() -> integer */
static int process_pid(lua_State *L) {
  process *p = check_process(L, 1);
  lua_pushinteger(L, p->pid);
  return 1;
}

/* process:done() -> boolean: exited and its output collected */
static int process_done(lua_State *L) {
  process *p = check_process(L, 1);
  lua_pushboolean(L, p->done);
  return 1;
}

/* process:kill([signal="TERM"]) -> true | nil, msg, code — to the whole process group */
static int process_kill(lua_State *L) {
  process *p = check_process(L, 1);
  int sig = check_signal(L, 2, SIGTERM);
  if (p->exited || p->pid < 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  p->cancelled = 1;
  if (kill(-p->pid, sig) != 0 && kill(p->pid, sig) != 0) return kina_push_errno(L, errno, "kill");
  lua_pushboolean(L, 1);
  return 1;
}

/* process:terminate([grace]) -> boolean — SIGTERM to the group now, SIGKILL after `grace` seconds
 * (the runner escalates during step) */
static int process_terminate(lua_State *L) {
  process *p = check_process(L, 1);
  double grace = luaL_optnumber(L, 2, p->grace);
  if (p->exited || p->pid < 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  p->cancelled = 1;
  kill(-p->pid, SIGTERM);
  double at = now_seconds() + grace;
  if (p->kill_at <= 0 || at < p->kill_at) p->kill_at = at;
  lua_pushboolean(L, 1);
  return 1;
}

static void set_field_lstring(lua_State *L, const char *key, const buffer *b) {
  lua_pushlstring(L, b->data ? b->data : "", b->len);
  lua_setfield(L, -2, key);
}

/* process:result() -> {argv, pid, code, signal, timed_out, cancelled, stdout, stderr,
 *   stdout_truncated, stderr_truncated, started, finished, duration} once done, else nil */
static int process_result(lua_State *L) {
  process *p = check_process(L, 1);
  if (!p->done) {
    lua_pushnil(L);
    return 1;
  }
  lua_createtable(L, 0, 13);
  lua_getiuservalue(L, 1, UV_ARGV);
  lua_setfield(L, -2, "argv");
  lua_pushinteger(L, p->pid);
  lua_setfield(L, -2, "pid");
  if (WIFEXITED(p->status)) {
    lua_pushinteger(L, WEXITSTATUS(p->status));
    lua_setfield(L, -2, "code");
  } else if (WIFSIGNALED(p->status)) {
    int sig = WTERMSIG(p->status);
    const char *name = signal_name(sig);
    if (name) lua_pushstring(L, name);
    else lua_pushinteger(L, sig);
    lua_setfield(L, -2, "signal");
  }
  lua_pushboolean(L, p->timed_out);
  lua_setfield(L, -2, "timed_out");
  lua_pushboolean(L, p->cancelled);
  lua_setfield(L, -2, "cancelled");
  set_field_lstring(L, "stdout", &p->out);
  set_field_lstring(L, "stderr", &p->err);
  lua_pushboolean(L, p->out.dropped > 0);
  lua_setfield(L, -2, "stdout_truncated");
  lua_pushboolean(L, p->err.dropped > 0);
  lua_setfield(L, -2, "stderr_truncated");
  lua_pushnumber(L, p->started);
  lua_setfield(L, -2, "started");
  lua_pushnumber(L, p->finished);
  lua_setfield(L, -2, "finished");
  lua_pushnumber(L, p->finished - p->started);
  lua_setfield(L, -2, "duration");
  return 1;
}

static int process_close_impl(lua_State *L, process *p) {
  if (p->pid >= 0 && !p->done) kill_and_reap(p);
  close_fd(&p->pipe_fd);
  if (p->owner) {
    /* still listed by a live runner (only possible from __gc when both are garbage, or an
     * explicit close): forget it there too */
    runner *r = p->owner;
    unlink_process(p);
    KINA_UNUSED(r);
  }
  buffer_free(&p->out);
  buffer_free(&p->err);
  p->in_data = NULL;
  KINA_UNUSED(L);
  return 0;
}

/* process:close() — kill (SIGKILL, whole group) and reap it if still running, free its buffers.
 * Its result is gone afterwards; call result() first. Idempotent; also __gc and __close. */
static int process_close(lua_State *L) {
  process *p = check_process(L, 1);
  if (p->owner) {
    /* drop the runner's reference so the runner forgets it */
    lua_getiuservalue(L, 1, UV_RUNNER);
    runner *r = lua_touserdata(L, -1);
    if (r && !r->closed) {
      lua_getiuservalue(L, -1, 1);
      lua_pushlightuserdata(L, p);
      lua_pushnil(L);
      lua_rawset(L, -3);
    }
  }
  return process_close_impl(L, p);
}

static int process_gc(lua_State *L) {
  process *p = check_process(L, 1);
  return process_close_impl(L, p);
}

static int process_tostring(lua_State *L) {
  process *p = check_process(L, 1);
  lua_pushfstring(L, "kina.Process (pid %d, %s)", (int)p->pid, p->done ? "done" : p->exited ? "exited" : "running");
  return 1;
}

/* runner.now() -> number: monotonic seconds, the clock results and deadlines use */
static int l_now(lua_State *L) {
  lua_pushnumber(L, now_seconds());
  return 1;
}

/* runner.exit_fast_path() -> "pidfd" | "sigchld": how child exits are learnt on this build */
static int l_exit_path(lua_State *L) {
#if defined(KINA_USE_PIDFD)
  lua_pushstring(L, "pidfd");
#else
  lua_pushstring(L, "sigchld");
#endif
  return 1;
}

static const luaL_Reg runner_methods[] = {
  {"spawn", runner_spawn}, {"step", runner_step}, {"active", runner_active},
  {"kill_all", runner_kill_all}, {"watch_signals", runner_watch_signals}, {"close", runner_close},
  {NULL, NULL},
};
static const luaL_Reg runner_meta[] = {
  {"__gc", runner_gc}, {"__close", runner_gc}, {"__tostring", runner_tostring}, {NULL, NULL},
};
static const luaL_Reg process_methods[] = {
  {"pid", process_pid}, {"done", process_done}, {"kill", process_kill}, {"terminate", process_terminate},
  {"result", process_result}, {"close", process_close}, {NULL, NULL},
};
static const luaL_Reg process_meta[] = {
  {"__gc", process_gc}, {"__close", process_gc}, {"__tostring", process_tostring}, {NULL, NULL},
};
static const luaL_Reg module_functions[] = {
  {"new", runner_new}, {"now", l_now}, {"exit_path", l_exit_path}, {NULL, NULL},
};

static void new_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

int luaopen_kina_core_runner(lua_State *L);
int luaopen_kina_core_runner(lua_State *L) {
  new_class(L, RUNNER_MT, runner_meta, runner_methods);
  new_class(L, PROCESS_MT, process_meta, process_methods);
  luaL_newlib(L, module_functions);
  lua_pushstring(L, "0.1.0");
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
