/* Label tracks: the text of a subtitle cue to a class label. */
#include "lstm.h"

#include <string.h>

/* Pango markup as subparse emits it: tags dropped, the five XML entities
 * and numeric character references decoded, blanks at both ends and runs of
 * blanks inside folded to one space. */
gchar *
lstm_label_from_cue (const gchar * text, gsize len, gboolean markup)
{
  GString *out = g_string_sized_new (len);
  const gchar *p = text, *end = text + len;
  gchar *label;

  g_return_val_if_fail (text != NULL || len == 0, NULL);

  while (p < end) {
    if (markup && *p == '<') {
      const gchar *close = memchr (p, '>', end - p);
      p = close != NULL ? close + 1 : end;
      g_string_append_c (out, ' ');     /* a tag separates words */
    } else if (markup && *p == '&') {
      static const struct
      {
        const gchar *name;
        gchar c;
      } entities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
        {"&apos;", '\''},
      };
      guint i;
      gboolean done = FALSE;
      for (i = 0; i < G_N_ELEMENTS (entities) && !done; i++) {
        gsize n = strlen (entities[i].name);
        if ((gsize) (end - p) >= n && memcmp (p, entities[i].name, n) == 0) {
          g_string_append_c (out, entities[i].c);
          p += n;
          done = TRUE;
        }
      }
      if (!done && end - p > 2 && p[1] == '#') {
        /* &#NNN; or &#xHH; parsed within [p, end): the text is not
         * NUL-terminated, so no strtoul */
        gboolean hex = p[2] == 'x' || p[2] == 'X';
        const gchar *q = p + (hex ? 3 : 2);
        guint64 cp = 0;
        guint digits = 0;
        while (q < end && digits < 8 && (hex ? g_ascii_isxdigit (*q) :
                g_ascii_isdigit (*q))) {
          cp = cp * (hex ? 16 : 10) + (hex ? g_ascii_xdigit_value (*q) :
              g_ascii_digit_value (*q));
          q++;
          digits++;
        }
        if (digits > 0 && q < end && *q == ';' && cp > 0 && cp <= 0x10FFFF
            && g_unichar_validate ((gunichar) cp)) {
          g_string_append_unichar (out, (gunichar) cp);
          p = q + 1;
          done = TRUE;
        }
      }
      if (!done)
        g_string_append_c (out, *p++);
    } else {
      g_string_append_c (out, *p++);
    }
  }

  /* fold blanks (spaces, tabs, newlines of multi-line cues) and any other
   * control character: a label is one line of text
   * (lstm_model_set_labels refuses control characters) */
  label = g_string_free (out, FALSE);
  {
    static const gchar blanks[] = " \x01\x02\x03\x04\x05\x06\x07\x08\t"
        "\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19"
        "\x1a\x1b\x1c\x1d\x1e\x1f\x7f";
    gchar **words = g_strsplit_set (label, blanks, -1);
    GString *folded = g_string_new (NULL);
    guint i;
    for (i = 0; words[i] != NULL; i++) {
      if (words[i][0] == '\0')
        continue;
      if (folded->len > 0)
        g_string_append_c (folded, ' ');
      g_string_append (folded, words[i]);
    }
    g_strfreev (words);
    g_free (label);
    label = g_string_free (folded, FALSE);
  }
  if (!g_utf8_validate (label, -1, NULL)) {
    gchar *valid = g_utf8_make_valid (label, -1);
    g_free (label);
    label = valid;
  }
  return label;
}
