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
 *
 * What is replaced is a regular file: a symbolic link is followed (the
 * link stays, its target gets the new bytes, as an editor saving through
 * a link does), and anything else already at the path (a folder, a device
 * such as /dev/null, a pipe, a socket, a link to nothing) is refused
 * rather than replaced by a regular file.
 */
#define _GNU_SOURCE             /* O_TMPFILE, linkat */
#include "lstm-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* An unnamed file in dir (O_TMPFILE), or -1 with errno set. */
static int
open_unnamed (const gchar * dir)
{
#ifdef O_TMPFILE
  return open (dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
#else
  errno = EOPNOTSUPP;
  return -1;
#endif
}

/* The errno of open_unnamed where the filesystem (or kernel) has no
 * unnamed files, rather than a folder refusing files. */
static gboolean
unnamed_unsupported (int err)
{
  return err == EOPNOTSUPP || err == EISDIR || err == EINVAL;
}

/* The file to replace for path: path itself when nothing is there yet or
 * a regular file is, the file a symbolic link leads to when that is a
 * regular file; NULL with an error naming path for anything else. */
static gchar *
replaceable (const gchar * path, GError ** error)
{
  struct stat st;
  const gchar *what;
  gchar *real;

  if (lstat (path, &st) != 0) {
    if (errno == ENOENT)
      return g_strdup (path);
    fail (error, "write", path, errno);
    return NULL;
  }
  if (S_ISREG (st.st_mode))
    return g_strdup (path);
  if (S_ISLNK (st.st_mode)) {
    if (stat (path, &st) != 0) {
      g_set_error (error, LSTM_ERROR, LSTM_ERROR_IO, "cannot write %s: it "
          "is a symbolic link to nothing (%s)", path, g_strerror (errno));
      return NULL;
    }
    if (S_ISREG (st.st_mode) && (real = realpath (path, NULL)) != NULL) {
      gchar *dup = g_strdup (real);
      free (real);
      return dup;
    }
  }
  what = S_ISDIR (st.st_mode) ? "a folder" : S_ISCHR (st.st_mode)
      || S_ISBLK (st.st_mode) ? "a device" : S_ISFIFO (st.st_mode) ? "a pipe"
      : S_ISSOCK (st.st_mode) ? "a socket" : "not a regular file";
  g_set_error (error, LSTM_ERROR, LSTM_ERROR_IO, "cannot write %s: it is "
      "%s%s; a model is written to a regular file", path,
      S_ISLNK (st.st_mode) ? "a symbolic link to " : "", what);
  return NULL;
}

gboolean
lstm_file_check_replaceable (const gchar * path, GError ** error)
{
  g_autofree gchar *target = replaceable (path, error);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *probe = NULL;
  int fd;

  if (target == NULL)
    return FALSE;
  dir = g_path_get_dirname (target);
  /* a file the folder takes and the kernel drops on close (access (W_OK)
   * says yes to root even on /proc) */
  fd = open_unnamed (dir);
  if (fd >= 0) {
    close (fd);
    return TRUE;
  }
  if (!unnamed_unsupported (errno))
    return fail (error, "write", path, errno);
  probe = g_build_filename (dir, ".lstm-probe-XXXXXX", NULL);
  fd = g_mkstemp (probe);
  if (fd < 0)
    return fail (error, "write", path, errno);
  close (fd);
  g_unlink (probe);
  return TRUE;
}

gboolean
lstm_file_replace (const gchar * path, const void *data, gsize size,
    GError ** error)
{
  g_autofree gchar *target = replaceable (path, error);
  g_autofree gchar *dir = NULL;
  g_autofree gchar *tmp = NULL;
  g_autoptr (GError) err = NULL;
  int fd, e = 0;

  if (target == NULL)
    return FALSE;
  dir = g_path_get_dirname (target);

  fd = open_unnamed (dir);
  if (fd >= 0) {
    if (!write_all (fd, data, size, &e) || fsync (fd) != 0) {
      if (e == 0)
        e = errno;
      close (fd);
      return fail (error, "write", path, e);
    }
    tmp = link_temporary (fd, target);
    e = errno;
    close (fd);
    if (tmp != NULL) {
      if (rename (tmp, target) == 0)
        return TRUE;
      e = errno;
      g_unlink (tmp);
      return fail (error, "replace", path, e);
    }
    /* no /proc to link through: the named way below */
    if (e != ENOENT)
      return fail (error, "write", path, e);
  } else if (!unnamed_unsupported (errno)) {
    /* the folder refuses files (read-only, missing, no permission...) */
    return fail (error, "write", path, errno);
  }

  /* CONSISTENT: temporary file + rename; DURABLE: fsync before the rename. */
  if (!g_file_set_contents_full (target, data, size,
          G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644,
          &err)) {
    g_set_error (error, LSTM_ERROR, LSTM_ERROR_IO, "%s", err->message);
    return FALSE;
  }
  return TRUE;
}
