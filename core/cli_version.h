/* cli_version.h — facts about Apple's `container` CLI shared by spec.c and apple.c, so each
 * is written once: versions ("1.2.2": parse, compare), the feature thresholds kina relies on
 * (reference apple-container.md §1, checked against apple/container's tags), the name rules
 * (§2.4, §4), and the one marshalling helper both need (sorted keys, for stable argv).
 * Everything is `static inline`: a module that uses only part of it gets no warning. */
#ifndef KINA_CLI_VERSION_H
#define KINA_CLI_VERSION_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"

typedef struct {
  long major, minor, patch;
} kina_version;

/* Features whose flags or behaviour appeared in a given release. */
enum kina_feature {
  KINA_F_NETWORK,                  /* --network, `container network` (macOS 26): 0.2.0 (#243) */
  KINA_F_SYSTEM_STATUS,            /* `system status`: 0.2.0 (#118) */
  KINA_F_PUBLISH,                  /* -p/--publish: 0.3.0 (#352) */
  KINA_F_PLATFORM,                 /* run/create --platform: 0.4.0 (#545) */
  KINA_F_VOLUMES,                  /* named volumes (-v NAME:/dst): 0.4.0 (#362) */
  KINA_F_IMAGE_SAVE_MANY,          /* `image save` with several references: 0.5.0 (#560) */
  KINA_F_NETWORK_LABELS,           /* `network create --label`: 0.5.0 (#600) */
  KINA_F_NETWORK_SUBNET,           /* `network create --subnet`: 0.6.0 (#737) */
  KINA_F_NETWORK_NONE,             /* --network none: 0.6.0 (#739) */
  KINA_F_PORT_RANGES,              /* -p 8000-8010:80-90: 0.7.0 (#801) */
  KINA_F_ROSETTA,                  /* --rosetta: 0.7.0 (#846) */
  KINA_F_IMAGE_STREAM,             /* `image save` to stdout / `image load` from stdin: 0.7.0 */
  KINA_F_SYSTEM_VERSION,           /* `system version`: 0.8.0 (#911) */
  KINA_F_PUBLISH_IPV6,             /* -p [::1]:80:80: 0.8.0 (#1029) */
  KINA_F_PUBLISH_PER_PROTOCOL,     /* 53/tcp and 53/udp may share a host port: 0.8.0 (#1000) */
  KINA_F_STATUS_FORMAT,            /* `system status --format json`: 0.10.0 (#1237) */
  KINA_F_LIST_HONOURS_ALL,         /* `list --format json` honours --all: 0.10.0 (#1175) */
  KINA_F_STOP_MISSING_IS_ERROR,    /* stop/delete of an unknown ID fail: 0.11.0 (#878) */
  KINA_F_CAP_ADD,                  /* --cap-add/--cap-drop; OCI default caps from now on: 0.12.0 (#1383) */
  KINA_F_COPY,                     /* `container copy`/`cp`: 1.0.0 (#1190) */
  KINA_F_INSPECT_MISSING_IS_ERROR, /* inspect of an unknown ID fails (was `[]`): 1.0.0 (#1564) */
  KINA_F_MASKED_PATHS,             /* --masked-path/--read-only-path NONE: 1.2.1 (#2069) */
  KINA_F_SCHEME_NO_AUTO,           /* --scheme auto gone, default https: 1.3.0 (#2100; updates-2026-12 §1) */
  KINA_F_STATUS_NESTED,            /* nested `system status --format json`: 1.4.1 (#1769; updates-2026-12 §1) */
  KINA_F_COUNT
};

typedef struct {
  const char *name; /* the key in apple.features() */
  const char *what; /* the flag or behaviour, for error messages */
  long major, minor, patch;
} kina_feature_threshold;

static const kina_feature_threshold kina_feature_thresholds[KINA_F_COUNT] = {
  [KINA_F_NETWORK] = {"network", "--network", 0, 2, 0},
  [KINA_F_SYSTEM_STATUS] = {"system_status", "system status", 0, 2, 0},
  [KINA_F_PUBLISH] = {"publish", "--publish", 0, 3, 0},
  [KINA_F_PLATFORM] = {"platform", "--platform", 0, 4, 0},
  [KINA_F_VOLUMES] = {"volumes", "named volumes", 0, 4, 0},
  [KINA_F_IMAGE_SAVE_MANY] = {"image_save_many", "saving several images at once", 0, 5, 0},
  [KINA_F_NETWORK_LABELS] = {"network_labels", "network create --label", 0, 5, 0},
  [KINA_F_NETWORK_SUBNET] = {"network_subnet", "network create --subnet", 0, 6, 0},
  [KINA_F_NETWORK_NONE] = {"network_none", "--network none", 0, 6, 0},
  [KINA_F_PORT_RANGES] = {"port_ranges", "port ranges in --publish", 0, 7, 0},
  [KINA_F_ROSETTA] = {"rosetta", "--rosetta", 0, 7, 0},
  [KINA_F_IMAGE_STREAM] = {"image_stream", "image save/load through a pipe", 0, 7, 0},
  [KINA_F_SYSTEM_VERSION] = {"system_version", "system version", 0, 8, 0},
  [KINA_F_PUBLISH_IPV6] = {"publish_ipv6", "IPv6 host addresses in --publish", 0, 8, 0},
  [KINA_F_PUBLISH_PER_PROTOCOL] = {"publish_per_protocol", "one host port for both tcp and udp", 0, 8, 0},
  [KINA_F_STATUS_FORMAT] = {"status_format", "system status --format", 0, 10, 0},
  [KINA_F_LIST_HONOURS_ALL] = {"list_honours_all", "list --all in JSON mode", 0, 10, 0},
  [KINA_F_STOP_MISSING_IS_ERROR] = {"stop_missing_is_error", "stop/delete failing on unknown IDs", 0, 11, 0},
  [KINA_F_CAP_ADD] = {"cap_add", "--cap-add", 0, 12, 0},
  [KINA_F_COPY] = {"copy", "container copy", 1, 0, 0},
  [KINA_F_INSPECT_MISSING_IS_ERROR] = {"inspect_missing_is_error", "inspect failing on unknown IDs", 1, 0, 0},
  [KINA_F_MASKED_PATHS] = {"masked_paths", "--masked-path/--read-only-path", 1, 2, 1},
  [KINA_F_SCHEME_NO_AUTO] = {"scheme_no_auto", "image operations without --scheme auto", 1, 3, 0},
  [KINA_F_STATUS_NESTED] = {"status_nested", "nested system status JSON", 1, 4, 1},
};

static inline int kina_version_cmp3(kina_version v, long major, long minor, long patch) {
  if (v.major != major) return v.major < major ? -1 : 1;
  if (v.minor != minor) return v.minor < minor ? -1 : 1;
  if (v.patch != patch) return v.patch < patch ? -1 : 1;
  return 0;
}

static inline int kina_version_cmp(kina_version a, kina_version b) {
  return kina_version_cmp3(a, b.major, b.minor, b.patch);
}

static inline int kina_version_has(kina_version v, enum kina_feature f) {
  const kina_feature_threshold *t = &kina_feature_thresholds[f];
  return kina_version_cmp3(v, t->major, t->minor, t->patch) >= 0;
}

/* 1.2.0 applies the OCI default read-only /proc/sys with no opt-out, so kindest/node's
 * entrypoint and `sysctl -w` fail (§1 "1.2.0", §5.1, apple/container#2041). */
static inline int kina_version_nodes_boot(kina_version v) {
  return kina_version_cmp3(v, 1, 2, 0) != 0;
}

/* Shape of `list`/`inspect` JSON (§3.3): "0.1" status string + top-level networks with
 * `address`; "0.8" adds ipv4Address and a numeric startedDate; "1.0" nests under status. */
static inline const char *kina_version_json_shape(kina_version v) {
  if (kina_version_cmp3(v, 0, 8, 0) < 0) return "0.1";
  if (kina_version_cmp3(v, 1, 0, 0) < 0) return "0.8";
  return "1.0";
}

/* Default guest kernel a fresh install of this release downloads (§1 table, §5.3). */
static inline const char *kina_version_kernel_default(kina_version v) {
  if (kina_version_cmp3(v, 0, 9, 0) < 0) return "6.12.28";
  if (kina_version_cmp3(v, 0, 12, 0) < 0) return "6.18.5";
  if (kina_version_cmp3(v, 1, 3, 0) < 0) return "6.18.15";
  return "6.18.35"; /* Kata 3.32.0 vmlinux-6.18.35-197 from 1.3.0 (updates-2026-12 §1) */
}

/* Read one version component: 1 to 6 digits (no release comes near; keeps `long` safe). */
static inline size_t kina_version_digits(const char *s, size_t len, long *out) {
  size_t i = 0;
  long n = 0;
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    if (i == 6) return 0;
    n = n * 10 + (s[i] - '0');
    i++;
  }
  *out = n;
  return i;
}

/* Match `\d+\.\d+\.\d+` at s; returns the length matched or 0. */
static inline size_t kina_version_match(const char *s, size_t len, kina_version *out) {
  size_t a, b, c;
  kina_version v;
  if ((a = kina_version_digits(s, len, &v.major)) == 0 || a >= len || s[a] != '.') return 0;
  if ((b = kina_version_digits(s + a + 1, len - a - 1, &v.minor)) == 0) return 0;
  if (a + 1 + b >= len || s[a + 1 + b] != '.') return 0;
  if ((c = kina_version_digits(s + a + b + 2, len - a - b - 2, &v.patch)) == 0) return 0;
  *out = v;
  return a + b + c + 2;
}

/* Parse exactly "X.Y.Z" (the whole string). Returns 1 on success. */
static inline int kina_version_parse(const char *s, size_t len, kina_version *out) {
  return len > 0 && kina_version_match(s, len, out) == len;
}

/* Find the first X.Y.Z in free text, as the regex (\d+\.\d+\.\d+) would; returns its
 * offset or -1. `container --version` prints "container CLI version 1.2.2 (build: …)". */
static inline long kina_version_find(const char *s, size_t len, kina_version *out, size_t *matched) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9' || (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')) continue;
    size_t n = kina_version_match(s + i, len - i, out);
    if (n) {
      *matched = n;
      return (long)i;
    }
  }
  return -1;
}

/* Apple's container ID rule: `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`, 2–63 characters (§4,
 * ManagedContainer.nameValid). Every existing container satisfies it, and it keeps a name
 * from ever reading as an option. */
static inline int kina_valid_container_name(const char *s, size_t len) {
  if (len < 2 || len > 63) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) return 0;
  }
  return 1;
}

/* Network names: `^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$` (§2.4). */
static inline int kina_valid_network_name(const char *s, size_t len) {
  if (len < 1 || len > 63) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && ((i == 0 || i == len - 1) || (c != '.' && c != '_' && c != '-'))) return 0;
  }
  return 1;
}

/* One decimal IPv4 octet (0-255, no sign) at s[0..len); returns its value or -1. */
static inline long kina_ipv4_octet(const char *s, size_t len) {
  long n = 0;
  if (len == 0 || len > 3) return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    n = n * 10 + (s[i] - '0');
  }
  return n > 255 ? -1 : n;
}

/* Whether `--scheme auto` sent image reference `ref` to its registry over plain http: its
 * registry host (the first path component when it has a '.' or ':' or is "localhost", the
 * Docker reference rule; without its :port) is "localhost", or an IPv4 literal in 10/8,
 * 127/8, 192.168/16 or 172.16/12 (apple/container before 1.3.0,
 * Sources/Services/ContainerAPIService/Client/RequestScheme.swift isInternalHost; reference
 * updates-2026-12 §1 names all but 172.16/12). Auto also matched hosts under the runtime's DNS
 * domain, which kina does not read. From 1.3.0 auto is gone and kina passes --scheme http for
 * exactly these references. */
static inline int kina_registry_was_auto_http(const char *ref, size_t len) {
  size_t slash = 0, colon;
  while (slash < len && ref[slash] != '/') slash++;
  if (slash == len) return 0; /* no registry part: docker.io */
  int dotted = 0;
  for (size_t i = 0; i < slash; i++) dotted |= ref[i] == '.' || ref[i] == ':';
  if (!dotted && !(slash == 9 && memcmp(ref, "localhost", 9) == 0)) return 0; /* docker.io/<user>/... */
  for (colon = 0; colon < slash && ref[colon] != ':'; colon++) {}
  if (colon == 9 && memcmp(ref, "localhost", 9) == 0) return 1;
  long o[4];
  size_t at = 0;
  for (int i = 0; i < 4; i++) {
    size_t end = at;
    while (end < colon && ref[end] != '.') end++;
    if ((i < 3) != (end < colon)) return 0; /* three dots, then the host ends */
    if ((o[i] = kina_ipv4_octet(ref + at, end - at)) < 0) return 0;
    at = end + 1;
  }
  return o[0] == 10 || o[0] == 127 || (o[0] == 192 && o[1] == 168) || (o[0] == 172 && o[1] >= 16 && o[1] <= 31);
}

static inline int kina_cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted string keys of the table at `idx` (other keys are the caller's to refuse first), as
 * a userdata array of `const char *` left on the stack: a userdata, so a raise cannot leak
 * it; the strings stay anchored by the table. Sorting makes -e/-l order stable. */
static inline const char **kina_sorted_keys(lua_State *L, int idx, size_t *n) {
  idx = lua_absindex(L, idx);
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
  }
  const char **keys = (const char **)lua_newuserdatauv(L, (count ? count : 1) * sizeof *keys, 0);
  size_t i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (i < count) keys[i++] = lua_tostring(L, -1);
  }
  qsort(keys, i, sizeof *keys, kina_cmp_cstr);
  *n = i;
  return keys;
}

#endif
