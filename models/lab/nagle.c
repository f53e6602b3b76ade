/* LD_PRELOAD shim for the lab: forces Nagle's algorithm on or off for every TCP socket a program connects or
 * accepts, whatever the program asks for. SENSOR_LAB_NODELAY=1 sets TCP_NODELAY (Nagle off), =0 clears it and
 * ignores the program's own attempts to set it (Nagle on). Unset: the shim does nothing.
 *
 *   gcc -shared -fPIC -O2 -o nagle.so nagle.c -ldl
 *
 * Statically linked programs (Go) and set-uid programs do not load preloaded libraries; lab.py records which
 * ones those are instead of claiming the setting for them. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

static int wanted(void) {
  const char *v = getenv("SENSOR_LAB_NODELAY");
  if (v == NULL || (v[0] != '0' && v[0] != '1')) return -1;
  return v[0] - '0';
}

static int (*real_setsockopt)(int, int, int, const void *, socklen_t);

static int call_setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  if (real_setsockopt == NULL) real_setsockopt = dlsym(RTLD_NEXT, "setsockopt");
  return real_setsockopt(fd, level, name, val, len);
}

static void apply(int fd) {
  int w = wanted();
  if (w < 0 || fd < 0) return;
  int type = 0;
  socklen_t tl = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM) return;
  call_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &w, sizeof w);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  int w = wanted();
  if (w >= 0 && level == IPPROTO_TCP && name == TCP_NODELAY) return call_setsockopt(fd, level, name, &w, sizeof w);
  return call_setsockopt(fd, level, name, val, len);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real)(int, const struct sockaddr *, socklen_t);
  if (real == NULL) real = dlsym(RTLD_NEXT, "connect");
  apply(fd);
  return real(fd, addr, len);
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (real == NULL) real = dlsym(RTLD_NEXT, "accept");
  int c = real(fd, addr, len);
  apply(c);
  return c;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (real == NULL) real = dlsym(RTLD_NEXT, "accept4");
  int c = real(fd, addr, len, flags);
  apply(c);
  return c;
}
