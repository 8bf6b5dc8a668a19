/* weak-tls-smtpd: a minimal SMTP server with STARTTLS over GnuTLS, for the
 * real-peer tests only (tests/real-peers/mail.sh builds and runs it).
 *
 * Debian's OpenSSL 3.0 no longer implements 3DES or RC4 cipher suites, so
 * no Postfix from Debian can accept them; Debian's GnuTLS still does, when
 * the priority string asks for them. This server binds one loopback
 * address, answers EHLO with STARTTLS, does the TLS handshake with the
 * given priority string, and answers every later command with 502 (QUIT
 * with 221). It never accepts, relays or delivers mail.
 *
 * usage: weak-tls-smtpd ADDRESS PORT CERT.pem KEY.pem PRIORITY HOSTNAME
 */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void say(int fd, const char *text) {
    size_t left = strlen(text);
    while (left > 0) {
        ssize_t n = write(fd, text, left);
        if (n <= 0) return;
        text += n;
        left -= (size_t)n;
    }
}

/* One line, byte by byte: nothing after the STARTTLS line is consumed, so
 * the ClientHello is left for GnuTLS. */
static int read_line(int fd, char *line, size_t size) {
    size_t i = 0;
    char c;
    while (i + 1 < size) {
        if (read(fd, &c, 1) != 1) return -1;
        if (c == '\n') break;
        line[i++] = c;
    }
    line[i] = 0;
    if (i > 0 && line[i - 1] == '\r') line[i - 1] = 0;
    return 0;
}

/* The plaintext dialogue: 0 once STARTTLS was accepted, -1 otherwise. */
static int plaintext(int fd, const char *host) {
    char line[1024], reply[512];
    snprintf(reply, sizeof reply, "220 %s ESMTP mailwarden real-peer test MTA (GnuTLS)\r\n", host);
    say(fd, reply);
    for (;;) {
        if (read_line(fd, line, sizeof line) != 0) return -1;
        if (strncasecmp(line, "EHLO", 4) == 0) {
            snprintf(reply, sizeof reply, "250-%s\r\n250-PIPELINING\r\n250 STARTTLS\r\n", host);
            say(fd, reply);
        } else if (strcasecmp(line, "STARTTLS") == 0) {
            say(fd, "220 2.0.0 Ready to start TLS\r\n");
            return 0;
        } else if (strcasecmp(line, "QUIT") == 0) {
            say(fd, "221 2.0.0 Bye\r\n");
            return -1;
        } else {
            say(fd, "502 5.5.1 Not implemented here\r\n");
        }
    }
}

static void serve(int fd, gnutls_certificate_credentials_t cred, const char *priority, const char *host) {
    if (plaintext(fd, host) != 0) return;
    gnutls_session_t session;
    if (gnutls_init(&session, GNUTLS_SERVER) < 0) return;
    gnutls_priority_set_direct(session, priority, NULL);
    gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred);
    gnutls_certificate_server_set_request(session, GNUTLS_CERT_IGNORE);
    gnutls_transport_set_int(session, fd);
    gnutls_handshake_set_timeout(session, 10000);
    int ret;
    do {
        ret = gnutls_handshake(session);
    } while (ret < 0 && !gnutls_error_is_fatal(ret));
    if (ret < 0) {
        fprintf(stderr, "handshake failed: %s\n", gnutls_strerror(ret));
        gnutls_deinit(session);
        return;
    }
    char *desc = gnutls_session_get_desc(session);
    fprintf(stderr, "handshake: %s\n", desc ? desc : "?");
    gnutls_free(desc);
    char buf[1024];
    for (;;) {
        ssize_t n = gnutls_record_recv(session, buf, sizeof buf - 1);
        if (n <= 0) break;
        buf[n] = 0;
        if (strncasecmp(buf, "QUIT", 4) == 0) {
            gnutls_record_send(session, "221 2.0.0 Bye\r\n", 15);
            break;
        }
        gnutls_record_send(session, "502 5.5.1 Not implemented here\r\n", 32);
    }
    gnutls_bye(session, GNUTLS_SHUT_WR);
    gnutls_deinit(session);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s ADDRESS PORT CERT.pem KEY.pem PRIORITY HOSTNAME\n", argv[0]);
        return 2;
    }
    const char *address = argv[1], *cert = argv[3], *key = argv[4], *priority = argv[5], *host = argv[6];
    signal(SIGCHLD, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    gnutls_global_init();
    gnutls_certificate_credentials_t cred;
    gnutls_certificate_allocate_credentials(&cred);
    int ret = gnutls_certificate_set_x509_key_file(cred, cert, key, GNUTLS_X509_FMT_PEM);
    if (ret < 0) {
        fprintf(stderr, "%s, %s: %s\n", cert, key, gnutls_strerror(ret));
        return 1;
    }
    gnutls_priority_t check;
    const char *bad = NULL;
    if (gnutls_priority_init(&check, priority, &bad) < 0) {
        fprintf(stderr, "priority string %s: error at %s\n", priority, bad ? bad : "?");
        return 1;
    }
    gnutls_priority_deinit(check);

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, address, &sa.sin_addr) != 1 || (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "%s: expected an IPv4 loopback address\n", address);
        return 1;
    }
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (listener < 0 || bind(listener, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(listener, 16) != 0) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        if (fork() == 0) {
            close(listener);
            alarm(30);
            serve(fd, cred, priority, host);
            close(fd);
            _exit(0);
        }
        close(fd);
    }
}
