/* Replacing a file atomically and durably, with no temporary file left
 * behind by a process killed while it writes.
 *
 * The bytes go into an unnamed file in the target's folder (O_TMPFILE),
 * which the kernel drops if the process dies before it has a name; once
 * written and fsync'ed it is linked under a temporary name and renamed
 * over the target, so readers see the old file or the new one whole. Only
 * between the link and the rename (two system calls) does a temporary
 * name exist. Where the filesystem has no O_TMPFILE (or /proc is missing
 * for the link), GLib's g_file_set_contents_full does the same with a
 * named temporary file.
 */
#define _GNU_SOURCE             /* O_TMPFILE, linkat */
#include "lstm-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static gboolean
fail (GError ** error, const gchar * what, const gchar * path, int err)
{
  g_set_error (error, LSTM_ERROR, LSTM_ERROR_IO, "cannot %s %s: %s", what,
      path, g_strerror (err));
  return FALSE;
}

static gboolean
write_all (int fd, const guint8 * data, gsize size, int *err)
{
  while (size > 0) {
    gssize n = write (fd, data, MIN (size, (gsize) G_MAXSSIZE));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      *err = n < 0 ? errno : ENOSPC;
      return FALSE;
    }
    data += n;
    size -= n;
  }
  return TRUE;
}

/* Links the open unnamed file fd under a fresh temporary name next to
 * path; that name, or NULL with errno set. */
static gchar *
link_temporary (int fd, const gchar * path)
{
  g_autofree gchar *proc = g_strdup_printf ("/proc/self/fd/%d", fd);
  guint tries;

  for (tries = 0; tries < 100; tries++) {
    gchar *tmp = g_strdup_printf ("%s.%08x", path, g_random_int ());
    if (linkat (AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0)
      return tmp;
    g_free (tmp);
    if (errno != EEXIST)
      return NULL;
  }
  return NULL;
}

gboolean
lstm_file_replace (const gchar * path, const void *data, gsize size,
    GError ** error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *tmp = NULL;
  g_autoptr (GError) err = NULL;
  int fd, e = 0;

#ifdef O_TMPFILE
  fd = open (dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
#else
  fd = -1;
  errno = EOPNOTSUPP;
#endif
  if (fd >= 0) {
    if (!write_all (fd, data, size, &e) || fsync (fd) != 0) {
      if (e == 0)
        e = errno;
      close (fd);
      return fail (error, "write", path, e);
    }
    tmp = link_temporary (fd, path);
    e = errno;
    close (fd);
    if (tmp != NULL) {
      if (rename (tmp, path) == 0)
        return TRUE;
      e = errno;
      g_unlink (tmp);
      return fail (error, "replace", path, e);
    }
    /* no /proc to link through: the named way below */
    if (e != ENOENT)
      return fail (error, "write", path, e);
  } else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
    /* the folder refuses files (read-only, missing, no permission...) */
    return fail (error, "write", path, errno);
  }

  /* CONSISTENT: temporary file + rename; DURABLE: fsync before the rename. */
  if (!g_file_set_contents_full (path, data, size,
          G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644,
          &err)) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_IO, "%s", err->message);
    return FALSE;
  }
  return TRUE;
}
