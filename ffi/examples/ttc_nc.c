/* ttc_nc: a netcat-style client written against the ttc C API (ttc.h).
 *
 *   ttc_nc [-c CHUNK] [-i MESSAGE] HOST PORT < input > output
 *
 * stdin goes to the server, the server's bytes go to stdout. At the end
 * of stdin it says "producer finished" (half-close) and keeps copying
 * until the server closes. Signals and the final report go to stderr:
 *
 *   ttc_nc: connected to 127.0.0.1:7
 *   ttc_nc: report reason=finished sent=5 received=5 unsent=0
 *
 * -c CHUNK: chunk size (256, 1024, 4096, 16384); -i MESSAGE: initial
 * message, sent before stdin.
 *
 * Exit status: 0 when the connection ended cleanly (finished, or the
 * server closed) with nothing unsent; 1 otherwise; 2 for bad usage.
 *
 * Threads: main reads stdin and sends; one thread receives to stdout; one
 * watches the signals. Build (glibc):
 *   cc -I ffi/include ffi/examples/ttc_nc.c target/debug/libttc.a \
 *      -lpthread -ldl -lm -lrt -lutil -lgcc_s -o ttc_nc
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttc.h"

static ttc_client client;
/* Written by the receiver when the stream has ended: wakes main out of
 * its wait on stdin (the server closed before stdin ended). */
static int ended_pipe[2];

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void *receiver(void *arg) {
    static uint8_t buf[16384];
    (void)arg;
    for (;;) {
        size_t got = 0;
        ttc_status st = ttc_recv(client, buf, sizeof buf, TTC_FOREVER, &got);
        if (st != TTC_OK) {
            fprintf(stderr, "ttc_nc: receive: %s\n", ttc_strerror(st));
            break;
        }
        if (got == 0) break; /* end of stream */
        if (write_all(STDOUT_FILENO, buf, got) != 0) {
            fprintf(stderr, "ttc_nc: writing stdout: %s\n", strerror(errno));
            ttc_shutdown(client);
            break;
        }
    }
    char one = 1;
    if (write(ended_pipe[1], &one, 1) < 0) { /* main then sees stdin end */ }
    return NULL;
}

static void *watcher(void *arg) {
    ttc_signal s;
    (void)arg;
    while (ttc_next_signal(client, TTC_FOREVER, &s) == TTC_OK) {
        switch (s.kind) {
        case TTC_SIGNAL_CONNECTED:
            fprintf(stderr, "ttc_nc: connected to %s\n", s.peer);
            break;
        case TTC_SIGNAL_PEER_CLOSED:
            fprintf(stderr, "ttc_nc: server closed\n");
            break;
        case TTC_SIGNAL_ERROR:
            fprintf(stderr, "ttc_nc: error phase=%s kind=%s os_code=%d message=%s\n",
                    ttc_phase_str(s.error.phase), s.error.kind, s.error.os_code,
                    s.error.message);
            break;
        case TTC_SIGNAL_SOCKET_SHUTDOWN: /* the report: printed after join */
        default:
            break;
        }
    }
    return NULL;
}

static int usage(void) {
    fprintf(stderr, "usage: ttc_nc [-c CHUNK] [-i MESSAGE] HOST PORT\n");
    return 2;
}

int main(int argc, char **argv) {
    ttc_options opts = ttc_options_default();
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            opts.chunk_size = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-i") == 0 && i + 1 < argc) {
            opts.initial_message = (const uint8_t *)argv[++i];
            opts.initial_message_len = strlen(argv[i]);
        } else {
            return usage();
        }
    }
    if (argc - i != 2) return usage();
    char *end = NULL;
    unsigned long port = strtoul(argv[i + 1], &end, 10);
    if (*argv[i + 1] == '\0' || *end != '\0' || port > 65535) return usage();

    ttc_error err;
    ttc_status st = ttc_spawn(argv[i], (uint16_t)port, &opts, &client, &err);
    if (st != TTC_OK) {
        fprintf(stderr, "ttc_nc: %s%s%s\n", ttc_strerror(st), err.message[0] ? ": " : "",
                err.message);
        return 1;
    }
    if (pipe(ended_pipe) != 0) {
        perror("ttc_nc: pipe");
        return 1;
    }
    pthread_t rx, sig;
    if (pthread_create(&rx, NULL, receiver, NULL) != 0 ||
        pthread_create(&sig, NULL, watcher, NULL) != 0) {
        fprintf(stderr, "ttc_nc: cannot start a thread\n");
        return 1;
    }

    static uint8_t buf[16384];
    struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {ended_pipe[0], POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            perror("ttc_nc: poll");
            break;
        }
        if (fds[1].revents) break; /* the stream ended first */
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            perror("ttc_nc: reading stdin");
            break;
        }
        if (n == 0) break; /* end of input */
        size_t taken = 0;
        st = ttc_send(client, buf, (size_t)n, TTC_FOREVER, &taken);
        if (st != TTC_OK) {
            fprintf(stderr, "ttc_nc: send: %s (%zu of %zd bytes taken)\n", ttc_strerror(st),
                    taken, n);
            break;
        }
    }
    ttc_producer_finished(client);

    pthread_join(rx, NULL);
    pthread_join(sig, NULL);
    ttc_report r;
    st = ttc_join(client, &r);
    if (st != TTC_OK) {
        fprintf(stderr, "ttc_nc: join: %s\n", ttc_strerror(st));
        return 1;
    }
    fprintf(stderr, "ttc_nc: report reason=%s sent=%" PRIu64 " received=%" PRIu64
                    " unsent=%" PRIu64 "\n",
            ttc_reason_str(r.reason), r.sent, r.received, r.unsent);
    if (r.has_error) {
        fprintf(stderr, "ttc_nc: ended by phase=%s kind=%s message=%s\n",
                ttc_phase_str(r.error.phase), r.error.kind, r.error.message);
    }
    if (ttc_free(client) != TTC_OK) return 1;
    /* The handle is stale now: a clear error, not a crash. */
    if (ttc_shutdown(client) != TTC_E_HANDLE) return 1;
    close(ended_pipe[0]);
    close(ended_pipe[1]);
    int clean = (r.reason == TTC_REASON_FINISHED || r.reason == TTC_REASON_PEER_CLOSED) &&
                r.unsent == 0 && !r.has_error;
    return clean ? 0 : 1;
}
