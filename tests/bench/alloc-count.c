/* Counts the heap allocations one thread makes while counting is on, for
 * bench-element's allocations per buffer. Linked into the benchmark only
 * (never under a sanitizer, which owns malloc): the program's own malloc
 * and friends take precedence over libc's for every library of the
 * process (ELF symbol interposition) and hand on to glibc's __libc_*. */
#include <glib.h>

#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *p, size_t size);
extern void *__libc_memalign (size_t alignment, size_t size);

static __thread gboolean counting;      /* this thread's counting is on */
static __thread gint64 allocs;

/* start TRUE: counting on from zero; FALSE: off. Returns the count so far. */
gint64
bench_count_allocs (gboolean start)
{
  gint64 n = allocs;

  counting = start;
  if (start)
    allocs = 0;
  return n;
}

void *
malloc (size_t size)
{
  allocs += counting;
  return __libc_malloc (size);
}

void *
calloc (size_t n, size_t size)
{
  allocs += counting;
  return __libc_calloc (n, size);
}

void *
realloc (void *p, size_t size)
{
  allocs += counting;
  return __libc_realloc (p, size);
}

void *
memalign (size_t alignment, size_t size)
{
  allocs += counting;
  return __libc_memalign (alignment, size);
}

void *
aligned_alloc (size_t alignment, size_t size)
{
  return memalign (alignment, size);
}

int
posix_memalign (void **out, size_t alignment, size_t size)
{
  void *p = memalign (alignment, size);

  if (p == NULL)
    return ENOMEM;
  *out = p;
  return 0;
}
