/* The C API's contract from C: bad handles, NULL pointers, bad options,
 * timeouts and the end of the stream, joins and frees.
 *
 *   api_test HOST PORT     (PORT: a `ttc serve sink` peer)
 *
 * Exit status 0 when every check passed; prints "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttc.h"

static int passed, failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            fprintf(stderr, "api_test: FAILED line %d: %s\n", __LINE__, #cond); \
        }                                                                  \
    } while (0)

#define WAIT_MS 20000

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: api_test HOST PORT\n");
        return 2;
    }
    const char *host = argv[1];
    uint16_t port = (uint16_t)atoi(argv[2]);
    uint8_t buf[64];
    size_t n = 99;
    ttc_signal s;
    ttc_report r;
    ttc_client c = 0;

    /* Messages for every status, and for unknown ones. */
    for (int code = -6; code <= 3; code++) CHECK(ttc_strerror(code)[0] != '\0');
    CHECK(strcmp(ttc_strerror(77), "unknown ttc status code") == 0);
    CHECK(strcmp(ttc_reason_str(TTC_REASON_PEER_CLOSED), "peer_closed") == 0);
    CHECK(ttc_version()[0] != '\0');

    /* Handles that were never made. */
    CHECK(ttc_send(0, buf, 1, 0, &n) == TTC_E_HANDLE && n == 0);
    CHECK(ttc_recv(12345, buf, sizeof buf, 0, &n) == TTC_E_HANDLE);
    CHECK(ttc_shutdown(UINT64_MAX) == TTC_E_HANDLE);
    CHECK(ttc_free(0) == TTC_E_HANDLE);

    /* Bad arguments. */
    CHECK(ttc_spawn(NULL, port, NULL, &c, NULL) == TTC_E_NULL);
    CHECK(ttc_spawn(host, port, NULL, NULL, NULL) == TTC_E_NULL);
    ttc_options o = ttc_options_default();
    o.chunk_size = 1000;
    CHECK(ttc_spawn(host, port, &o, &c, NULL) == TTC_E_UNSUPPORTED && c == 0);
    o = ttc_options_default();
    o.family = 5;
    CHECK(ttc_spawn(host, port, &o, &c, NULL) == TTC_E_INVALID && c == 0);

    /* A connection to the sink. */
    ttc_error err;
    o = ttc_options_default();
    o.chunk_size = 256;
    CHECK(ttc_spawn(host, port, &o, &c, &err) == TTC_OK && c != 0);
    CHECK(err.phase == TTC_PHASE_NONE);
    CHECK(ttc_next_signal(c, WAIT_MS, &s) == TTC_OK && s.kind == TTC_SIGNAL_CONNECTED);
    CHECK(s.peer[0] != '\0');
    CHECK(ttc_next_signal(c, 0, &s) == TTC_TIMEOUT);
    CHECK(ttc_next_signal(c, 0, NULL) == TTC_E_NULL);
    CHECK(ttc_recv(c, buf, sizeof buf, 20, &n) == TTC_TIMEOUT && n == 0);
    CHECK(ttc_recv(c, buf, 0, 20, &n) == TTC_E_INVALID);
    CHECK(ttc_recv(c, NULL, 8, 20, &n) == TTC_E_NULL);
    CHECK(ttc_send(c, NULL, 5, 0, &n) == TTC_E_NULL);
    CHECK(ttc_try_send(c, (const uint8_t *)"abc", 3, &n) == TTC_OK && n == 3);
    /* 600 bytes: three chunks of 256 or less. */
    static uint8_t big[600];
    memset(big, 'x', sizeof big);
    CHECK(ttc_send(c, big, sizeof big, WAIT_MS, &n) == TTC_OK && n == sizeof big);
    CHECK(ttc_producer_finished(c) == TTC_OK);
    CHECK(ttc_recv(c, buf, sizeof buf, WAIT_MS, &n) == TTC_OK && n == 0); /* end */
    CHECK(ttc_join(c, &r) == TTC_OK);
    CHECK(r.reason == TTC_REASON_FINISHED);
    CHECK(r.sent == 603 && r.received == 0 && r.unsent == 0 && !r.has_error);
    ttc_report again;
    CHECK(ttc_join(c, &again) == TTC_OK && again.sent == r.sent);
    int finals = 0, others = 0;
    ttc_status st;
    while ((st = ttc_next_signal(c, WAIT_MS, &s)) == TTC_OK) {
        if (s.kind == TTC_SIGNAL_SOCKET_SHUTDOWN) {
            finals++;
            CHECK(s.report.sent == 603);
        } else if (s.kind != TTC_SIGNAL_PEER_CLOSED) {
            others++;
        }
    }
    CHECK(st == TTC_CLOSED && finals == 1 && others == 0);
    CHECK(ttc_try_send(c, (const uint8_t *)"z", 1, &n) == TTC_CLOSED && n == 0);

    /* Freed: every call on the handle is an error, not a crash. */
    CHECK(ttc_free(c) == TTC_OK);
    CHECK(ttc_free(c) == TTC_E_HANDLE);
    CHECK(ttc_send(c, buf, 1, 0, &n) == TTC_E_HANDLE);
    CHECK(ttc_recv(c, buf, sizeof buf, 0, &n) == TTC_E_HANDLE);
    CHECK(ttc_next_signal(c, 0, &s) == TTC_E_HANDLE);
    CHECK(ttc_join(c, &r) == TTC_E_HANDLE);
    CHECK(ttc_abort(c) == TTC_E_HANDLE);

    /* The slot is reused; the old handle stays stale. */
    ttc_client c2 = 0;
    CHECK(ttc_spawn(host, port, NULL, &c2, NULL) == TTC_OK && c2 != c);
    CHECK(ttc_producer_finished(c) == TTC_E_HANDLE);
    CHECK(ttc_abort(c2) == TTC_OK);
    CHECK(ttc_join(c2, &r) == TTC_OK && r.reason == TTC_REASON_ABORTED);
    CHECK(ttc_free(c2) == TTC_OK);

    printf("api_test: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
