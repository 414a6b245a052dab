/* libFuzzer target: the label a subtitle cue carries (lstmtrain's label
 * tracks). Any bytes, with and without markup, must give a valid UTF-8
 * label with no blank at either end, no run of blanks inside, and, from
 * markup without entities, no '<' left. */
#include "lstm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
check (const gchar * label, gboolean markup)
{
  gsize n = strlen (label);

  if (!g_utf8_validate (label, -1, NULL))
    abort ();
  if (n > 0 && (g_ascii_isspace (label[0]) || g_ascii_isspace (label[n - 1])))
    abort ();
  if (strstr (label, "  ") != NULL || strchr (label, '\n') != NULL
      || strchr (label, '\t') != NULL)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  gchar *a = lstm_label_from_cue ((const gchar *) data, size, FALSE);
  gchar *b = lstm_label_from_cue ((const gchar *) data, size, TRUE);

  check (a, FALSE);
  check (b, TRUE);
  /* with markup every '<' opens a tag that is dropped: only a decoded
   * entity ("&lt;", "&#60;") can bring one back */
  if (memchr (data, '&', size) == NULL && strchr (b, '<') != NULL)
    abort ();
  /* without markup nothing is removed but blanks */
  if (memchr (data, '\0', size) == NULL && strlen (a) > size * 3 + 1)
    abort ();
  g_free (a);
  g_free (b);
  return 0;
}
