/* digest.c — kina.core.digest: SHA-256 (FIPS 180-4) for content-addressed blobs.
 *
 * OCI image layouts name every blob by the sha256 of its bytes, and image archives can be
 * hundreds of MiB, so besides the one-shot digest.sha256(s) there is an incremental hasher
 * that is fed in chunks and never holds the whole input. Plain C99, no platform calls. */
#include <stdint.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#define HASHER_MT "kina.core.digest.Sha256"

typedef struct {
  uint32_t state[8];
  uint64_t length;       /* bytes consumed so far */
  unsigned char buf[64]; /* pending partial block */
  size_t buflen;
  int finished;          /* hexdigest() was called: the state is final */
  char hex[65];
} Sha256;

static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_init(Sha256 *h) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(h->state, iv, sizeof iv);
  h->length = 0;
  h->buflen = 0;
  h->finished = 0;
  h->hex[0] = '\0';
}

static void sha256_block(uint32_t st[8], const unsigned char *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++) {
    w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) | ((uint32_t)p[4 * i + 2] << 8) |
           (uint32_t)p[4 * i + 3];
  }
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], hh = st[7];
  for (int i = 0; i < 64; i++) {
    uint32_t S1 = ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = hh + S1 + ch + K[i] + w[i];
    uint32_t S0 = ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = S0 + maj;
    hh = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  st[0] += a; st[1] += b; st[2] += c; st[3] += d;
  st[4] += e; st[5] += f; st[6] += g; st[7] += hh;
}

static void sha256_update(Sha256 *h, const unsigned char *p, size_t n) {
  h->length += n;
  if (h->buflen > 0) {
    size_t take = 64 - h->buflen;
    if (take > n) take = n;
    memcpy(h->buf + h->buflen, p, take);
    h->buflen += take;
    p += take;
    n -= take;
    if (h->buflen < 64) return;
    sha256_block(h->state, h->buf);
    h->buflen = 0;
  }
  while (n >= 64) {
    sha256_block(h->state, p);
    p += 64;
    n -= 64;
  }
  if (n > 0) {
    memcpy(h->buf, p, n);
    h->buflen = n;
  }
}

static void sha256_final(Sha256 *h) {
  static const char digits[] = "0123456789abcdef";
  uint64_t bits = h->length * 8;
  unsigned char pad[72];
  size_t padlen = (h->buflen < 56) ? 56 - h->buflen : 120 - h->buflen;
  memset(pad, 0, sizeof pad);
  pad[0] = 0x80;
  for (int i = 0; i < 8; i++) pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
  uint64_t keep = h->length;
  sha256_update(h, pad, padlen + 8);
  h->length = keep;
  for (int i = 0; i < 8; i++) {
    for (int j = 0; j < 4; j++) {
      unsigned char byte = (unsigned char)(h->state[i] >> (24 - 8 * j));
      h->hex[8 * i + 2 * j] = digits[byte >> 4];
      h->hex[8 * i + 2 * j + 1] = digits[byte & 15];
    }
  }
  h->hex[64] = '\0';
  h->finished = 1;
}

/* hex = digest.sha256(s)  — lowercase hex SHA-256 of the whole string */
static int digest_sha256(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  Sha256 h;
  sha256_init(&h);
  sha256_update(&h, (const unsigned char *)s, n);
  sha256_final(&h);
  lua_pushlstring(L, h.hex, 64);
  return 1;
}

/* hasher = digest.sha256_new()  — incremental hasher: hasher:update(s) ... hasher:hexdigest() */
static int digest_sha256_new(lua_State *L) {
  Sha256 *h = (Sha256 *)lua_newuserdatauv(L, sizeof(Sha256), 0);
  sha256_init(h);
  luaL_setmetatable(L, HASHER_MT);
  return 1;
}

/* hasher = hasher:update(s)  — feeds more bytes; raises after hexdigest() */
static int hasher_update(lua_State *L) {
  Sha256 *h = (Sha256 *)luaL_checkudata(L, 1, HASHER_MT);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  if (h->finished) return luaL_error(L, "sha256 hasher: update after hexdigest");
  sha256_update(h, (const unsigned char *)s, n);
  lua_settop(L, 1);
  return 1;
}

/* hex = hasher:hexdigest()  — finishes the hash; later calls return the same value */
static int hasher_hexdigest(lua_State *L) {
  Sha256 *h = (Sha256 *)luaL_checkudata(L, 1, HASHER_MT);
  if (!h->finished) sha256_final(h);
  lua_pushlstring(L, h->hex, 64);
  return 1;
}

/* n = hasher:size()  — number of bytes fed so far */
static int hasher_size(lua_State *L) {
  Sha256 *h = (Sha256 *)luaL_checkudata(L, 1, HASHER_MT);
  lua_pushinteger(L, (lua_Integer)h->length);
  return 1;
}

static int hasher_tostring(lua_State *L) {
  Sha256 *h = (Sha256 *)luaL_checkudata(L, 1, HASHER_MT);
  lua_pushfstring(L, "kina.core.digest.Sha256 (%p)", (void *)h);
  return 1;
}

static const luaL_Reg hasher_methods[] = {
  {"update", hasher_update},
  {"hexdigest", hasher_hexdigest},
  {"size", hasher_size},
  {NULL, NULL},
};

static const luaL_Reg digest_funcs[] = {
  {"sha256", digest_sha256},
  {"sha256_new", digest_sha256_new},
  {NULL, NULL},
};

LUAMOD_API int luaopen_kina_core_digest(lua_State *L);
LUAMOD_API int luaopen_kina_core_digest(lua_State *L) {
  luaL_newmetatable(L, HASHER_MT);
  luaL_newlib(L, hasher_methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, hasher_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_newlib(L, digest_funcs);
  lua_pushliteral(L, "kina.core.digest 1");
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
