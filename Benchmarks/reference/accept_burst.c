/*
 * N connections opened at once, each sending one request: the accept-rate row's client.
 *
 * usage: accept_burst PORT PATH CONNECTIONS TIMEOUT_S
 *   Opens every connection non-blocking (connect returns at once; the kernel completes the
 *   handshakes), writes the request on each as soon as it is writable, and waits in one epoll
 *   loop until each has its status line, or was closed, or the timeout passed. Prints one JSON
 *   object: how many got 200, other statuses, closed or unanswered, and the time from the first
 *   connect to the last answer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

enum { CONNECTING, SENT, DONE };

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s PORT PATH CONNECTIONS TIMEOUT_S\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]), n = atoi(argv[3]);
  double timeout = atof(argv[4]);
  char request[512];
  int request_len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", argv[2]);
  int *fds = calloc((size_t) n, sizeof *fds), *state = calloc((size_t) n, sizeof *state);
  int ep = epoll_create1(0), ok = 0, other = 0, closed = 0, failed = 0, pending = n;
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  double t0 = now_s(), last = t0;
  for (int i = 0; i < n; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fds[i] < 0 || (connect(fds[i], (struct sockaddr *) &address, sizeof address) != 0 && errno != EINPROGRESS)) {
      failed++; pending--; state[i] = DONE; continue;
    }
    struct epoll_event event = { .events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t) i };
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &event);
  }
  struct epoll_event ready[512];
  char buffer[4096];
  while (pending > 0 && now_s() - t0 < timeout) {
    int k = epoll_wait(ep, ready, 512, 100);
    for (int e = 0; e < k; e++) {
      int i = (int) ready[e].data.u32;
      if (state[i] == DONE) continue;
      if (state[i] == CONNECTING && (ready[e].events & EPOLLOUT) && !(ready[e].events & (EPOLLERR | EPOLLHUP))) {
        if (write(fds[i], request, (size_t) request_len) == request_len) {
          state[i] = SENT;
          struct epoll_event event = { .events = EPOLLIN, .data.u32 = (uint32_t) i };
          epoll_ctl(ep, EPOLL_CTL_MOD, fds[i], &event);
        }
        continue;
      }
      ssize_t got = read(fds[i], buffer, sizeof buffer - 1);
      if (got < 0 && errno == EAGAIN) continue;
      if (got > 12 && strncmp(buffer, "HTTP/1.1 ", 9) == 0) {
        if (strncmp(buffer + 9, "200", 3) == 0) ok++; else other++;
      } else {
        closed++;
      }
      state[i] = DONE;
      pending--;
      last = now_s();
      epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
      close(fds[i]);
    }
  }
  double seconds = last - t0;
  printf("{\"connections\":%d,\"ok\":%d,\"other_status\":%d,\"closed\":%d,\"connect_failed\":%d,"
         "\"unanswered\":%d,\"seconds\":%.3f,\"per_second\":%.0f}\n",
         n, ok, other, closed, failed, pending, seconds, seconds > 0 ? (double) (n - pending) / seconds : 0);
  return 0;
}
