// contention — a C program for the record tests: 4 threads that each take one mutex 25 times
// and hold it through a 2 ms sleep (slow work under a lock). Prints a checksum, exits with
// status 3 so the test can check the status is passed through.
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t cache = PTHREAD_MUTEX_INITIALIZER;
static unsigned long total = 0;

static void *worker(void *arg) {
  long id = (long)arg;
  for (int i = 0; i < 25; i++) {
    pthread_mutex_lock(&cache);
    usleep(2000);
    total += (unsigned long)(id + i);
    pthread_mutex_unlock(&cache);
  }
  return 0;
}

int main(void) {
  pthread_t threads[4];
  for (long t = 0; t < 4; t++) pthread_create(&threads[t], 0, worker, (void *)t);
  for (int t = 0; t < 4; t++) pthread_join(threads[t], 0);
  printf("total %lu\n", total);
  return 3;
}
