/* Label tracks: cue text to class labels. */
#include "lstm.h"

#include <string.h>

static void
check (const gchar * text, gboolean markup, const gchar * want)
{
  g_autofree gchar *got = lstm_label_from_cue (text, strlen (text), markup);
  g_assert_cmpstr (got, ==, want);
}

static void
test_plain (void)
{
  check ("yes", FALSE, "yes");
  check ("  yes \n", FALSE, "yes");
  check ("left\nright", FALSE, "left right");
  check ("\fleft\v right\f", FALSE, "left right");      /* found by fuzz-labels */
  check ("", FALSE, "");
  check ("<i>yes</i>", FALSE, "<i>yes</i>");    /* utf8: no markup */
  check ("a &amp; b", FALSE, "a &amp; b");
}

/* subparse's pango-markup */
static void
test_markup (void)
{
  check ("<i>yes</i>", TRUE, "yes");
  check ("<b>go</b>\n", TRUE, "go");
  check ("<span foreground=\"red\">stop</span>", TRUE, "stop");
  check ("rock &amp; roll", TRUE, "rock & roll");
  check ("&lt;unk&gt;", TRUE, "<unk>");
  check ("caf&#233;", TRUE, "caf\xc3\xa9");
  check ("&#x4e2d;", TRUE, "\xe4\xb8\xad");
  check ("two<br/>words", TRUE, "two words");
  check ("&bogus; &#0; &#xzz;", TRUE, "&bogus; &#0; &#xzz;");
  check ("<unterminated", TRUE, "");
}

static void
test_invalid_utf8 (void)
{
  const gchar bad[] = { 'a', (gchar) 0xff, 'b', 0 };
  g_autofree gchar *got = lstm_label_from_cue (bad, 3, FALSE);
  g_assert_true (g_utf8_validate (got, -1, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lstm/labels/plain", test_plain);
  g_test_add_func ("/lstm/labels/markup", test_markup);
  g_test_add_func ("/lstm/labels/invalid-utf8", test_invalid_utf8);
  return g_test_run ();
}
