/* Models shared between elements that load the same file.
 *
 * The cache holds no reference of its own: an entry lives while some
 * element holds the model. A lookup takes its reference under the cache
 * lock and only from a count above 0; the model's last unref removes the
 * entry under the same lock (dispose_notify) before freeing, so a lookup
 * never revives a dying model. A file that changed on disk (size, mtime or
 * inode) loads anew: a save replaces the file by rename, so a new inode
 * tells a new model even when size and mtime, which ticks only every few
 * milliseconds, are the same. Each weight precision of a file is its own
 * entry (key "<precision>:<path>"): elements asking for f16 share one
 * model, those asking for f32 another, and neither disturbs the other.
 */
#include "lstm.h"

#include <glib/gstdio.h>

typedef struct
{
  LstmModel *model;             /* borrowed: valid while ref_count > 0 */
  goffset size;
  gint64 mtime;                 /* st_mtime in ns */
  guint64 ino;                  /* st_ino */
} Entry;

static GMutex cache_lock;
static GHashTable *cache;       /* path -> Entry*, under cache_lock */

static gboolean
file_stamp (const gchar * path, goffset * size, gint64 * mtime, guint64 * ino)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return FALSE;
  *size = st.st_size;
  *ino = st.st_ino;
  *mtime = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000)
      + st.st_mtim.tv_nsec;
  return TRUE;
}

/* Takes a reference on a cached model unless its last holder is already
 * dropping it (refcount 0): then the entry is stale. */
static LstmModel *
try_ref (LstmModel * m)
{
  gint old;
  do {
    old = g_atomic_int_get (&m->ref_count);
    if (old == 0)
      return NULL;
  } while (!g_atomic_int_compare_and_exchange (&m->ref_count, old, old + 1));
  return m;
}

static void
entry_free (Entry * e)
{
  g_free (e);
}

/* The model's dispose_notify: its last reference is gone. */
static void
forget_model (gpointer data)
{
  LstmModel *m = data;
  GHashTableIter it;
  Entry *e;

  g_mutex_lock (&cache_lock);
  if (cache != NULL) {
    g_hash_table_iter_init (&it, cache);
    while (g_hash_table_iter_next (&it, NULL, (gpointer *) & e)) {
      if (e->model == m) {
        g_hash_table_iter_remove (&it);
        break;
      }
    }
  }
  g_mutex_unlock (&cache_lock);
}

/* A fresh load of path in precision; the messages name the file. */
static LstmModel *
load_precision (const gchar * path, LstmPrecision precision, GError ** error)
{
  LstmModel *m = lstm_model_load (path, error);

  if (m != NULL && !lstm_model_set_weight_precision (m, precision, error)) {
    g_prefix_error (error, "%s: ", path);
    g_clear_pointer (&m, lstm_model_unref);
  }
  return m;
}

LstmModel *
lstm_model_load_shared (const gchar * path, GError ** error)
{
  return lstm_model_load_shared_precision (path, LSTM_PRECISION_F32, error);
}

LstmModel *
lstm_model_load_shared_precision (const gchar * path,
    LstmPrecision precision, GError ** error)
{
  LstmModel *m = NULL;
  Entry *e;
  goffset size = -1;
  gint64 mtime = -1;
  guint64 ino = 0;
  g_autofree gchar *key = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (precision <= LSTM_PRECISION_INT8, NULL);

  key = g_strdup_printf ("%s:%s", lstm_precision_to_string (precision), path);
  g_mutex_lock (&cache_lock);
  if (cache == NULL)
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        (GDestroyNotify) entry_free);
  file_stamp (path, &size, &mtime, &ino);
  e = g_hash_table_lookup (cache, key);
  if (e != NULL && e->size == size && e->mtime == mtime && e->ino == ino)
    m = try_ref (e->model);
  g_mutex_unlock (&cache_lock);
  if (m != NULL)
    return m;

  /* Load without the lock: it may take a while, and another thread may
   * load the same file meanwhile; the last one in wins the entry. */
  m = load_precision (path, precision, error);
  if (m == NULL)
    return NULL;

  m->dispose_notify = forget_model;
  g_mutex_lock (&cache_lock);
  e = g_new0 (Entry, 1);
  e->model = m;
  e->size = size;
  e->mtime = mtime;
  e->ino = ino;
  g_hash_table_replace (cache, g_steal_pointer (&key), e);
  g_mutex_unlock (&cache_lock);
  return m;
}
