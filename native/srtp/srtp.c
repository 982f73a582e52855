/*
 * SRTP protection and batched sending of RTP packets, and SRTCP protection of the sender's RTCP
 * reports, for the WebRTC relay (Node-API, C).
 *
 * Why native: per SRTP packet, JavaScript must create a new node:crypto cipher object (key schedule
 * and all), and send each packet with its own syscall through several promise layers. Here one
 * OpenSSL context per viewer is keyed once and re-initialised with the packet's IV only, and a
 * frame's packets leave in one sendmmsg(2) call. The viewer's RTCP sender reports are protected
 * by a second pair of contexts (the SRTCP keys), also keyed once.
 *
 * Profiles: SRTP_AES128_CM_HMAC_SHA1_80 (0x0001), SRTP_AES128_CM_HMAC_SHA1_32 (0x0002) [RFC 3711]
 * and SRTP_AEAD_AES_128_GCM (0x0007) [RFC 7714]. Key derivation: RFC 3711 section 4.3 with a key
 * derivation rate of 0 (as DTLS-SRTP uses); a 12-byte (GCM) master salt is zero-padded to 14 bytes.
 * SRTCP: RFC 3711 3.4 / 4.1 (AES-CM: everything after the first 8 octets encrypted, then E||index,
 * then an HMAC-SHA1 tag over all of it) and RFC 7714 9 (GCM). The SRTCP tag of
 * SRTP_AES128_CM_HMAC_SHA1_32 is 80 bits, not 32: RFC 5764 4.1.2, and what libsrtp (Chrome,
 * Firefox) sends and expects for that profile.
 *
 * OpenSSL is the one inside the node binary (its symbols are exported; headers ship with Node).
 * Called from the main thread only.
 */
#define _GNU_SOURCE
#define OPENSSL_SUPPRESS_DEPRECATED /* HMAC_CTX: one keyed context reused per packet */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define PROFILE_AES_CM_80 0x0001
#define PROFILE_AES_CM_32 0x0002
#define PROFILE_AEAD_AES_128_GCM 0x0007

#define RTP_HEADER_SIZE 12
#define MAX_PAYLOAD 1400
/* A compound RTCP packet we protect: SR + SDES is ~60 bytes; the cap keeps the SRTCP packet
 * (+ 4-byte index + 16-byte tag at most) inside one scratch slot and one unfragmented datagram. */
#define RTCP_MIN 8
#define RTCP_MAX 1400
#define SRTCP_INDEX_SIZE 4
/* RFC 3711 3.3.2: at most 2^31 SRTCP packets under one key (an index never repeats). */
#define SRTCP_INDEX_LIMIT 0x80000000u
#define SLOT_SIZE 1500
#define BATCH 64

typedef struct {
  int profile;
  int tag_len;
  uint8_t session_salt[14];
  EVP_CIPHER_CTX *cipher;
  HMAC_CTX *hmac; /* AES-CM profiles only */
  /* RFC 3711 3.3.1: the sender's rollover counter and highest sequence number sent */
  int started;
  uint32_t ssrc;
  uint32_t roc;
  uint16_t s_l;
  /* SRTCP (RFC 3711 3.4): its own session keys (labels 3, 4, 5), and the 31-bit index of the next
   * packet: from 0, one per packet, never reused under these keys. */
  int rtcp_tag_len;
  uint8_t rtcp_session_salt[14];
  EVP_CIPHER_CTX *rtcp_cipher;
  HMAC_CTX *rtcp_hmac; /* AES-CM profiles only */
  uint32_t rtcp_index;
  int closed;
} srtp_ctx;

typedef struct {
  uint8_t scratch[BATCH][SLOT_SIZE];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
} module_state;

#define CHECK(env, call)                                                         \
  do {                                                                           \
    if ((call) != napi_ok) {                                                     \
      napi_throw_error((env), "ERR_SRTP_NAPI", "Node-API call failed: " #call); \
      return NULL;                                                               \
    }                                                                            \
  } while (0)

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_SRTP_ARG", msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_SRTP_ARG", msg);
  return NULL;
}

/* AES-128 in ECB mode on one block: the PRF of RFC 3711 4.3.3 with a zero counter. */
static int aes_ecb_block(const uint8_t key[16], const uint8_t in[16], uint8_t out[16]) {
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int len = 0, ok = 0;
  if (!c) return 0;
  if (EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, key, NULL) == 1 && EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
      EVP_EncryptUpdate(c, out, &len, in, 16) == 1 && len == 16)
    ok = 1;
  EVP_CIPHER_CTX_free(c);
  return ok;
}

/* RFC 3711 4.3.1: x = label XORed into byte 7 of the 14-byte master salt; keystream block `block`. */
static int derive(const uint8_t master_key[16], const uint8_t master_salt[14], uint8_t label, uint8_t block, uint8_t out[16]) {
  uint8_t x[16];
  memcpy(x, master_salt, 14);
  x[7] ^= label;
  x[14] = 0;
  x[15] = block;
  return aes_ecb_block(master_key, x, out);
}

static void ctx_free(srtp_ctx *ctx) {
  if (ctx->cipher) EVP_CIPHER_CTX_free(ctx->cipher);
  if (ctx->hmac) HMAC_CTX_free(ctx->hmac);
  if (ctx->rtcp_cipher) EVP_CIPHER_CTX_free(ctx->rtcp_cipher);
  if (ctx->rtcp_hmac) HMAC_CTX_free(ctx->rtcp_hmac);
  ctx->cipher = NULL;
  ctx->hmac = NULL;
  ctx->rtcp_cipher = NULL;
  ctx->rtcp_hmac = NULL;
  ctx->closed = 1;
}

/*
 * Keys one direction's cipher (and, for AES-CM, HMAC) from the master key and salt with the labels
 * of RFC 3711 4.3.2: SRTP uses 0 (encryption), 1 (authentication), 2 (salt); SRTCP 3, 4, 5.
 * Returns 1 on success; the session keys never outlive this call.
 */
static int key_session(const uint8_t master_key[16], const uint8_t master_salt[14], int gcm, uint8_t enc_label, uint8_t auth_label, uint8_t salt_label,
                       EVP_CIPHER_CTX **cipher, HMAC_CTX **hmac, uint8_t session_salt[14]) {
  uint8_t session_key[16], salt_block[16], auth_a[16], auth_b[16];
  int ok = derive(master_key, master_salt, enc_label, 0, session_key) && derive(master_key, master_salt, salt_label, 0, salt_block) &&
           (gcm || (derive(master_key, master_salt, auth_label, 0, auth_a) && derive(master_key, master_salt, auth_label, 1, auth_b)));
  if (ok) {
    memcpy(session_salt, salt_block, 14);
    *cipher = EVP_CIPHER_CTX_new();
    ok = *cipher && EVP_EncryptInit_ex(*cipher, gcm ? EVP_aes_128_gcm() : EVP_aes_128_ctr(), NULL, session_key, NULL) == 1;
  }
  if (ok && !gcm) {
    /* RFC 3711 4.3.2 / 8.2: a 160-bit authentication key, from two keystream blocks */
    uint8_t auth_key[20];
    memcpy(auth_key, auth_a, 16);
    memcpy(auth_key + 16, auth_b, 4);
    *hmac = HMAC_CTX_new();
    ok = *hmac && HMAC_Init_ex(*hmac, auth_key, 20, EVP_sha1(), NULL) == 1;
    OPENSSL_cleanse(auth_key, sizeof auth_key);
  }
  OPENSSL_cleanse(session_key, sizeof session_key);
  OPENSSL_cleanse(salt_block, sizeof salt_block);
  OPENSSL_cleanse(auth_a, sizeof auth_a);
  OPENSSL_cleanse(auth_b, sizeof auth_b);
  return ok;
}

static void finalize_ctx(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  srtp_ctx *ctx = (srtp_ctx *)data;
  ctx_free(ctx);
  free(ctx);
}

static napi_value create_context(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "createContext(profile, masterKey, masterSalt)");
  int32_t profile = 0;
  if (napi_get_value_int32(env, argv[0], &profile) != napi_ok) return throw_type(env, "profile must be a number");
  void *key = NULL, *salt = NULL;
  size_t key_len = 0, salt_len = 0;
  bool is_buf = false;
  napi_is_buffer(env, argv[1], &is_buf);
  if (!is_buf) return throw_type(env, "masterKey must be a Buffer");
  napi_is_buffer(env, argv[2], &is_buf);
  if (!is_buf) return throw_type(env, "masterSalt must be a Buffer");
  CHECK(env, napi_get_buffer_info(env, argv[1], &key, &key_len));
  CHECK(env, napi_get_buffer_info(env, argv[2], &salt, &salt_len));
  int gcm = profile == PROFILE_AEAD_AES_128_GCM;
  if (profile != PROFILE_AES_CM_80 && profile != PROFILE_AES_CM_32 && !gcm) return throw_range(env, "unsupported SRTP protection profile");
  if (key_len != 16) return throw_range(env, "masterKey must be 16 bytes");
  if (salt_len != (size_t)(gcm ? 12 : 14)) return throw_range(env, gcm ? "masterSalt must be 12 bytes for AEAD_AES_128_GCM" : "masterSalt must be 14 bytes for AES_CM");

  uint8_t master_salt[14] = {0};
  memcpy(master_salt, salt, salt_len);

  srtp_ctx *ctx = calloc(1, sizeof(srtp_ctx));
  if (!ctx) {
    napi_throw_error(env, "ERR_SRTP_NOMEM", "out of memory");
    return NULL;
  }
  ctx->profile = profile;
  ctx->tag_len = gcm ? 16 : profile == PROFILE_AES_CM_32 ? 4 : 10;
  /* _32 shortens the SRTP tag only: SRTCP keeps 80 bits (RFC 5764 4.1.2; libsrtp does the same) */
  ctx->rtcp_tag_len = gcm ? 16 : 10;
  int ok = key_session(key, master_salt, gcm, 0x00, 0x01, 0x02, &ctx->cipher, &ctx->hmac, ctx->session_salt) &&
           key_session(key, master_salt, gcm, 0x03, 0x04, 0x05, &ctx->rtcp_cipher, &ctx->rtcp_hmac, ctx->rtcp_session_salt);
  OPENSSL_cleanse(master_salt, sizeof master_salt);
  if (!ok) {
    ctx_free(ctx);
    free(ctx);
    napi_throw_error(env, "ERR_SRTP_CRYPTO", "SRTP key derivation or cipher setup failed");
    return NULL;
  }
  napi_value external;
  if (napi_create_external(env, ctx, finalize_ctx, NULL, &external) != napi_ok) {
    ctx_free(ctx);
    free(ctx);
    napi_throw_error(env, "ERR_SRTP_NAPI", "napi_create_external failed");
    return NULL;
  }
  return external;
}

/* RFC 3711 3.3.1 / appendix A, sender side: the packet index of `seq`, advancing the counter. */
static uint32_t roc_for(srtp_ctx *ctx, uint32_t ssrc, uint16_t seq) {
  if (!ctx->started || ctx->ssrc != ssrc) {
    ctx->started = 1;
    ctx->ssrc = ssrc;
    ctx->roc = 0;
    ctx->s_l = seq;
    return 0;
  }
  uint32_t v = ctx->roc;
  if (ctx->s_l < 32768) {
    if (seq > ctx->s_l && seq - ctx->s_l > 32768) v = ctx->roc - 1; /* late packet (retransmission) from before the wrap */
  } else if (seq < ctx->s_l - 32768) {
    v = ctx->roc + 1; /* wrapped */
  }
  if (v == ctx->roc + 1 || (v == ctx->roc && seq > ctx->s_l)) {
    ctx->roc = v;
    ctx->s_l = seq;
  }
  return v;
}

/* Protects packet `pkt` (header_len header bytes then payload_len payload bytes) in place; returns the SRTP length or -1. */
static int protect_in_place(srtp_ctx *ctx, uint8_t *pkt, int header_len, int payload_len) {
  uint32_t ssrc = ((uint32_t)pkt[8] << 24) | ((uint32_t)pkt[9] << 16) | ((uint32_t)pkt[10] << 8) | pkt[11];
  uint16_t seq = (uint16_t)((pkt[2] << 8) | pkt[3]);
  uint32_t roc = roc_for(ctx, ssrc, seq);
  uint8_t *payload = pkt + header_len;
  int len = 0;
  if (ctx->profile == PROFILE_AEAD_AES_128_GCM) {
    /* RFC 7714 8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt */
    uint8_t iv[12] = {0, 0, pkt[8], pkt[9], pkt[10], pkt[11], (uint8_t)(roc >> 24), (uint8_t)(roc >> 16), (uint8_t)(roc >> 8), (uint8_t)roc, pkt[2], pkt[3]};
    for (int i = 0; i < 12; i++) iv[i] ^= ctx->session_salt[i];
    if (EVP_EncryptInit_ex(ctx->cipher, NULL, NULL, NULL, iv) != 1) return -1;
    if (EVP_EncryptUpdate(ctx->cipher, NULL, &len, pkt, header_len) != 1) return -1;
    if (payload_len > 0 && EVP_EncryptUpdate(ctx->cipher, payload, &len, payload, payload_len) != 1) return -1;
    if (EVP_EncryptFinal_ex(ctx->cipher, payload + payload_len, &len) != 1) return -1;
    if (EVP_CIPHER_CTX_ctrl(ctx->cipher, EVP_CTRL_GCM_GET_TAG, 16, payload + payload_len) != 1) return -1;
    return header_len + payload_len + 16;
  }
  /* RFC 3711 4.1.1: IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16) */
  uint8_t iv[16];
  memcpy(iv, ctx->session_salt, 14);
  iv[14] = iv[15] = 0;
  iv[4] ^= pkt[8];
  iv[5] ^= pkt[9];
  iv[6] ^= pkt[10];
  iv[7] ^= pkt[11];
  iv[8] ^= (uint8_t)(roc >> 24);
  iv[9] ^= (uint8_t)(roc >> 16);
  iv[10] ^= (uint8_t)(roc >> 8);
  iv[11] ^= (uint8_t)roc;
  iv[12] ^= pkt[2];
  iv[13] ^= pkt[3];
  if (EVP_EncryptInit_ex(ctx->cipher, NULL, NULL, NULL, iv) != 1) return -1;
  if (payload_len > 0 && EVP_EncryptUpdate(ctx->cipher, payload, &len, payload, payload_len) != 1) return -1;
  /* RFC 3711 4.2: HMAC-SHA1 over the header, the encrypted payload and the ROC, truncated */
  uint8_t roc_be[4] = {(uint8_t)(roc >> 24), (uint8_t)(roc >> 16), (uint8_t)(roc >> 8), (uint8_t)roc};
  uint8_t mac[20];
  unsigned int mac_len = 0;
  if (HMAC_Init_ex(ctx->hmac, NULL, 0, NULL, NULL) != 1 || HMAC_Update(ctx->hmac, pkt, (size_t)header_len + (size_t)payload_len) != 1 ||
      HMAC_Update(ctx->hmac, roc_be, 4) != 1 || HMAC_Final(ctx->hmac, mac, &mac_len) != 1)
    return -1;
  memcpy(payload + payload_len, mac, (size_t)ctx->tag_len);
  return header_len + payload_len + ctx->tag_len;
}

/*
 * Protects the compound RTCP packet `in` (len bytes, already validated) as SRTCP into `out`, which
 * has room for len + 4 + rtcp_tag_len bytes; returns the SRTCP length, or -1 on a crypto failure.
 * Takes the next SRTCP index whatever happens next to the packet (a dropped send included): an
 * index is never used twice under one key, which is what keeps the keystream from repeating.
 */
static int protect_rtcp_into(srtp_ctx *ctx, const uint8_t *in, int len, uint8_t *out) {
  uint32_t index = ctx->rtcp_index++;
  /* E = 1: the packet is encrypted; then the 31-bit index (RFC 3711 3.4) */
  uint8_t e_index[SRTCP_INDEX_SIZE] = {(uint8_t)(0x80 | (index >> 24)), (uint8_t)(index >> 16), (uint8_t)(index >> 8), (uint8_t)index};
  int n = 0;
  memcpy(out, in, RTCP_MIN);
  if (ctx->profile == PROFILE_AEAD_AES_128_GCM) {
    /* RFC 7714 9.1: IV = (00 00 || SSRC || 00 00 || 0 || 31-bit index) XOR salt */
    uint8_t iv[12] = {0, 0, in[4], in[5], in[6], in[7], 0, 0, (uint8_t)(index >> 24), (uint8_t)(index >> 16), (uint8_t)(index >> 8), (uint8_t)index};
    for (int i = 0; i < 12; i++) iv[i] ^= ctx->rtcp_session_salt[i];
    /* RFC 7714 9.3 / 17: AAD = the first 8 octets || E||index; the rest is encrypted; the tag
     * follows the ciphertext and the E||index word ends the packet. */
    if (EVP_EncryptInit_ex(ctx->rtcp_cipher, NULL, NULL, NULL, iv) != 1) return -1;
    if (EVP_EncryptUpdate(ctx->rtcp_cipher, NULL, &n, in, RTCP_MIN) != 1) return -1;
    if (EVP_EncryptUpdate(ctx->rtcp_cipher, NULL, &n, e_index, SRTCP_INDEX_SIZE) != 1) return -1;
    if (len > RTCP_MIN && EVP_EncryptUpdate(ctx->rtcp_cipher, out + RTCP_MIN, &n, in + RTCP_MIN, len - RTCP_MIN) != 1) return -1;
    if (EVP_EncryptFinal_ex(ctx->rtcp_cipher, out + len, &n) != 1) return -1;
    if (EVP_CIPHER_CTX_ctrl(ctx->rtcp_cipher, EVP_CTRL_GCM_GET_TAG, 16, out + len) != 1) return -1;
    memcpy(out + len + 16, e_index, SRTCP_INDEX_SIZE);
    return len + 16 + SRTCP_INDEX_SIZE;
  }
  /* RFC 3711 4.1.1: IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16), the index 48 bits wide */
  uint8_t iv[16];
  memcpy(iv, ctx->rtcp_session_salt, 14);
  iv[14] = iv[15] = 0;
  for (int i = 0; i < 4; i++) iv[4 + i] ^= in[4 + i];
  iv[10] ^= (uint8_t)(index >> 24);
  iv[11] ^= (uint8_t)(index >> 16);
  iv[12] ^= (uint8_t)(index >> 8);
  iv[13] ^= (uint8_t)index;
  if (EVP_EncryptInit_ex(ctx->rtcp_cipher, NULL, NULL, NULL, iv) != 1) return -1;
  if (len > RTCP_MIN && EVP_EncryptUpdate(ctx->rtcp_cipher, out + RTCP_MIN, &n, in + RTCP_MIN, len - RTCP_MIN) != 1) return -1;
  memcpy(out + len, e_index, SRTCP_INDEX_SIZE);
  /* RFC 3711 3.4: the tag covers the whole packet and the E||index word */
  uint8_t mac[20];
  unsigned int mac_len = 0;
  if (HMAC_Init_ex(ctx->rtcp_hmac, NULL, 0, NULL, NULL) != 1 || HMAC_Update(ctx->rtcp_hmac, out, (size_t)len + SRTCP_INDEX_SIZE) != 1 ||
      HMAC_Final(ctx->rtcp_hmac, mac, &mac_len) != 1)
    return -1;
  memcpy(out + len + SRTCP_INDEX_SIZE, mac, (size_t)ctx->rtcp_tag_len);
  return len + SRTCP_INDEX_SIZE + ctx->rtcp_tag_len;
}

static srtp_ctx *get_ctx(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_SRTP_ARG", "context must come from createContext()");
    return NULL;
  }
  srtp_ctx *ctx = (srtp_ctx *)data;
  if (ctx->closed) {
    napi_throw_error(env, "ERR_SRTP_CLOSED", "SRTP context is closed");
    return NULL;
  }
  return ctx;
}

/* protect(ctx, rtpPacket: Buffer) → Buffer: one RTP packet (any header) as SRTP. */
static napi_value protect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "protect(ctx, rtpPacket)");
  srtp_ctx *ctx = get_ctx(env, argv[0]);
  if (!ctx) return NULL;
  bool is_buf = false;
  napi_is_buffer(env, argv[1], &is_buf);
  if (!is_buf) return throw_type(env, "rtpPacket must be a Buffer");
  uint8_t *in = NULL;
  size_t in_len = 0;
  CHECK(env, napi_get_buffer_info(env, argv[1], (void **)&in, &in_len));
  if (in_len < RTP_HEADER_SIZE || (in[0] >> 6) != 2) return throw_range(env, "rtpPacket is not an RTP packet");
  size_t header_len = RTP_HEADER_SIZE + 4u * (in[0] & 0x0f);
  if (in[0] & 0x10) {
    if (in_len < header_len + 4) return throw_range(env, "rtpPacket header extension is truncated");
    header_len += 4 + 4u * (((size_t)in[header_len + 2] << 8) | in[header_len + 3]);
  }
  if (header_len > in_len || in_len > 65000) return throw_range(env, "rtpPacket length is out of range");
  uint8_t *out_data = NULL;
  napi_value out;
  CHECK(env, napi_create_buffer(env, in_len + (size_t)ctx->tag_len, (void **)&out_data, &out));
  memcpy(out_data, in, in_len);
  if (protect_in_place(ctx, out_data, (int)header_len, (int)(in_len - header_len)) < 0) {
    napi_throw_error(env, "ERR_SRTP_CRYPTO", "SRTP encryption failed");
    return NULL;
  }
  return out;
}

/*
 * The compound RTCP packet argument of protectRtcp/sendRtcp, checked: version 2, an RTCP packet
 * type (RFC 5761 4: 192-223, so the receiver demultiplexes it as RTCP, not as RTP), 8 bytes (the
 * header and sender SSRC, which SRTCP leaves in the clear) up to RTCP_MAX, whole 32-bit words. Also refuses once the
 * context's SRTCP indexes are used up. Returns 1, or 0 with a JavaScript exception pending.
 */
static int rtcp_arg(napi_env env, srtp_ctx *ctx, napi_value v, uint8_t **in, size_t *len) {
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  if (!is_buf) {
    throw_type(env, "rtcpPacket must be a Buffer");
    return 0;
  }
  if (napi_get_buffer_info(env, v, (void **)in, len) != napi_ok) {
    napi_throw_error(env, "ERR_SRTP_NAPI", "Node-API call failed: napi_get_buffer_info");
    return 0;
  }
  if (*len < RTCP_MIN) {
    throw_range(env, "rtcpPacket is shorter than 8 bytes");
    return 0;
  }
  if (((*in)[0] >> 6) != 2 || (*in)[1] < 192 || (*in)[1] > 223) {
    throw_range(env, "rtcpPacket is not an RTCP packet (version 2, packet type 192-223)");
    return 0;
  }
  if (*len > RTCP_MAX) {
    throw_range(env, "rtcpPacket is larger than 1400 bytes");
    return 0;
  }
  if (*len % 4 != 0) {
    /* RFC 3550 6.4: every RTCP packet is a whole number of 32-bit words */
    throw_range(env, "rtcpPacket length is not a multiple of 4");
    return 0;
  }
  if (ctx->rtcp_index >= SRTCP_INDEX_LIMIT) {
    napi_throw_error(env, "ERR_SRTP_EXHAUSTED", "SRTCP index exhausted: 2^31 packets under one key (re-key)");
    return 0;
  }
  return 1;
}

/* protectRtcp(ctx, rtcpPacket: Buffer) → Buffer: one compound RTCP packet as SRTCP (the next index). */
static napi_value protect_rtcp(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "protectRtcp(ctx, rtcpPacket)");
  srtp_ctx *ctx = get_ctx(env, argv[0]);
  if (!ctx) return NULL;
  uint8_t *in = NULL;
  size_t in_len = 0;
  if (!rtcp_arg(env, ctx, argv[1], &in, &in_len)) return NULL;
  uint8_t *out_data = NULL;
  napi_value out;
  CHECK(env, napi_create_buffer(env, in_len + SRTCP_INDEX_SIZE + (size_t)ctx->rtcp_tag_len, (void **)&out_data, &out));
  if (protect_rtcp_into(ctx, in, (int)in_len, out_data) < 0) {
    napi_throw_error(env, "ERR_SRTP_CRYPTO", "SRTCP encryption failed");
    return NULL;
  }
  return out;
}

/* The `address` argument of sendRtp/sendRtcp: a Buffer from socketAddress(). 1, or 0 with an exception pending. */
static int address_arg(napi_env env, napi_value v, struct sockaddr **addr, size_t *addr_len) {
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  if (!is_buf || napi_get_buffer_info(env, v, (void **)addr, addr_len) != napi_ok ||
      (*addr_len != sizeof(struct sockaddr_in) && *addr_len != sizeof(struct sockaddr_in6))) {
    throw_type(env, "address must come from socketAddress()");
    return 0;
  }
  return 1;
}

/*
 * sendRtcp(ctx, fd, address, rtcpPacket) → bytes the kernel took, 0 when the socket buffer is full
 * (dropped, as UDP would: the next report carries newer numbers anyway), or -errno on any other
 * socket error. Protects the compound packet (the next SRTCP index) and sends it with one sendto.
 */
static napi_value send_rtcp(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_type(env, "sendRtcp(ctx, fd, address, rtcpPacket)");
  module_state *st = NULL;
  CHECK(env, napi_get_instance_data(env, (void **)&st));
  srtp_ctx *ctx = get_ctx(env, argv[0]);
  if (!ctx) return NULL;
  int32_t fd = -1;
  if (napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < 0) return throw_type(env, "fd must be a file descriptor");
  struct sockaddr *addr = NULL;
  size_t addr_len = 0;
  if (!address_arg(env, argv[2], &addr, &addr_len)) return NULL;
  uint8_t *in = NULL;
  size_t in_len = 0;
  if (!rtcp_arg(env, ctx, argv[3], &in, &in_len)) return NULL;
  /* scratch[0] is free between calls (main thread only); RTCP_MAX + 4 + 16 fits a slot */
  uint8_t *pkt = st->scratch[0];
  int len = protect_rtcp_into(ctx, in, (int)in_len, pkt);
  if (len < 0) {
    napi_throw_error(env, "ERR_SRTP_CRYPTO", "SRTCP encryption failed");
    return NULL;
  }
  ssize_t r;
  do {
    r = sendto(fd, pkt, (size_t)len, MSG_DONTWAIT, addr, (socklen_t)addr_len);
  } while (r < 0 && errno == EINTR);
  int32_t result = (int32_t)r;
  if (r < 0) result = errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? 0 : -errno;
  napi_value out;
  CHECK(env, napi_create_int32(env, result, &out));
  return out;
}

/* socketAddress(ip: string, port: number) → Buffer holding a sockaddr_in or sockaddr_in6. */
static napi_value socket_address(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "socketAddress(ip, port)");
  char ip[64];
  size_t ip_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, &ip_len) != napi_ok) return throw_type(env, "ip must be a string");
  int32_t port = 0;
  if (napi_get_value_int32(env, argv[1], &port) != napi_ok || port <= 0 || port > 65535) return throw_range(env, "port must be 1-65535");
  void *data = NULL;
  napi_value out;
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  memset(&a4, 0, sizeof a4);
  memset(&a6, 0, sizeof a6);
  if (inet_pton(AF_INET, ip, &a4.sin_addr) == 1) {
    a4.sin_family = AF_INET;
    a4.sin_port = htons((uint16_t)port);
    CHECK(env, napi_create_buffer_copy(env, sizeof a4, &a4, &data, &out));
    return out;
  }
  if (inet_pton(AF_INET6, ip, &a6.sin6_addr) == 1) {
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons((uint16_t)port);
    CHECK(env, napi_create_buffer_copy(env, sizeof a6, &a6, &data, &out));
    return out;
  }
  return throw_range(env, "ip is not an IPv4 or IPv6 address");
}

/*
 * sendRtp(ctx, fd, address, payloadType, ssrc, firstSequenceNumber, timestamp, markerOnLast, payloads[])
 *   → number of packets the kernel took, or -errno on a socket error other than a full buffer.
 * Builds each packet's 12-byte header (sequence numbers consecutive from the first), protects it
 * and sends the lot with sendmmsg. A full socket buffer drops the rest, as UDP would.
 */
static napi_value send_rtp(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) return throw_type(env, "sendRtp(ctx, fd, address, payloadType, ssrc, firstSequenceNumber, timestamp, markerOnLast, payloads)");
  module_state *st = NULL;
  CHECK(env, napi_get_instance_data(env, (void **)&st));
  srtp_ctx *ctx = get_ctx(env, argv[0]);
  if (!ctx) return NULL;
  int32_t fd = -1, pt = 0;
  uint32_t ssrc = 0, first_seq = 0, ts = 0;
  bool marker_last = false, is_buf = false, is_array = false;
  if (napi_get_value_int32(env, argv[1], &fd) != napi_ok || fd < 0) return throw_type(env, "fd must be a file descriptor");
  struct sockaddr *addr = NULL;
  size_t addr_len = 0;
  if (!address_arg(env, argv[2], &addr, &addr_len)) return NULL;
  if (napi_get_value_int32(env, argv[3], &pt) != napi_ok || pt < 0 || pt > 127) return throw_range(env, "payloadType must be 0-127");
  if (napi_get_value_uint32(env, argv[4], &ssrc) != napi_ok) return throw_type(env, "ssrc must be a number");
  if (napi_get_value_uint32(env, argv[5], &first_seq) != napi_ok) return throw_type(env, "firstSequenceNumber must be a number");
  if (napi_get_value_uint32(env, argv[6], &ts) != napi_ok) return throw_type(env, "timestamp must be a number");
  if (napi_get_value_bool(env, argv[7], &marker_last) != napi_ok) return throw_type(env, "markerOnLast must be a boolean");
  napi_is_array(env, argv[8], &is_array);
  if (!is_array) return throw_type(env, "payloads must be an array of Buffers");
  uint32_t count = 0;
  CHECK(env, napi_get_array_length(env, argv[8], &count));

  uint32_t sent_total = 0;
  uint32_t i = 0;
  while (i < count) {
    uint32_t n = 0;
    for (; n < BATCH && i < count; n++, i++) {
      napi_value item;
      CHECK(env, napi_get_element(env, argv[8], i, &item));
      napi_is_buffer(env, item, &is_buf);
      if (!is_buf) return throw_type(env, "payloads must be an array of Buffers");
      uint8_t *payload = NULL;
      size_t payload_len = 0;
      CHECK(env, napi_get_buffer_info(env, item, (void **)&payload, &payload_len));
      if (payload_len > MAX_PAYLOAD) return throw_range(env, "an RTP payload is larger than 1400 bytes");
      uint8_t *pkt = st->scratch[n];
      uint16_t seq = (uint16_t)(first_seq + i);
      pkt[0] = 0x80;
      pkt[1] = (uint8_t)((marker_last && i == count - 1 ? 0x80 : 0) | pt);
      pkt[2] = (uint8_t)(seq >> 8);
      pkt[3] = (uint8_t)seq;
      pkt[4] = (uint8_t)(ts >> 24);
      pkt[5] = (uint8_t)(ts >> 16);
      pkt[6] = (uint8_t)(ts >> 8);
      pkt[7] = (uint8_t)ts;
      pkt[8] = (uint8_t)(ssrc >> 24);
      pkt[9] = (uint8_t)(ssrc >> 16);
      pkt[10] = (uint8_t)(ssrc >> 8);
      pkt[11] = (uint8_t)ssrc;
      memcpy(pkt + RTP_HEADER_SIZE, payload, payload_len);
      int len = protect_in_place(ctx, pkt, RTP_HEADER_SIZE, (int)payload_len);
      if (len < 0) {
        napi_throw_error(env, "ERR_SRTP_CRYPTO", "SRTP encryption failed");
        return NULL;
      }
      st->iov[n].iov_base = pkt;
      st->iov[n].iov_len = (size_t)len;
      memset(&st->msgs[n], 0, sizeof st->msgs[n]);
      st->msgs[n].msg_hdr.msg_name = addr;
      st->msgs[n].msg_hdr.msg_namelen = (socklen_t)addr_len;
      st->msgs[n].msg_hdr.msg_iov = &st->iov[n];
      st->msgs[n].msg_hdr.msg_iovlen = 1;
    }
    uint32_t off = 0;
    while (off < n) {
      int r = sendmmsg(fd, st->msgs + off, n - off, MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break; /* dropped, as UDP would */
        napi_value err;
        CHECK(env, napi_create_int32(env, -errno, &err));
        return err;
      }
      if (r == 0) break;
      off += (uint32_t)r;
    }
    sent_total += off;
  }
  napi_value result;
  CHECK(env, napi_create_uint32(env, sent_total, &result));
  return result;
}

/* close(ctx): frees the OpenSSL contexts (SRTP and SRTCP) now (idempotent); GC would otherwise do it later. */
static napi_value close_context(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) return throw_type(env, "close(ctx)");
  ctx_free((srtp_ctx *)data);
  return NULL;
}

static void free_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  module_state *st = calloc(1, sizeof(module_state));
  if (!st || napi_set_instance_data(env, st, free_state, NULL) != napi_ok) {
    free(st);
    napi_throw_error(env, "ERR_SRTP_NOMEM", "SRTP module state allocation failed");
    return NULL;
  }
  napi_property_descriptor props[] = {
      {"createContext", NULL, create_context, NULL, NULL, NULL, napi_enumerable, NULL},
      {"protect", NULL, protect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketAddress", NULL, socket_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendRtp", NULL, send_rtp, NULL, NULL, NULL, napi_enumerable, NULL},
      {"protectRtcp", NULL, protect_rtcp, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendRtcp", NULL, send_rtcp, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, close_context, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
