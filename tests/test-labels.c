/* Label tracks: cue text to class labels. */
#include "lstm.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
  /* other control characters fold too: a label is one line of text */
  check ("a\001b\033[0m\177", FALSE, "a b [0m");
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

/* Cue text is not NUL-terminated: a character reference running to the
 * end of the buffer must not be read past it (found by fuzz-labels as a
 * SEGV inside strtoull, which ASan does not instrument). The text ends
 * right before a page that cannot be read, so a regression crashes in any
 * build. */
static void
test_unterminated (void)
{
  static const gchar text[] = "a &#12345678901234";
  gsize n = strlen (text), page = sysconf (_SC_PAGESIZE);
  guint8 *mem = mmap (NULL, 2 * page, PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  gchar *at;
  g_autofree gchar *got = NULL;

  g_assert_true (mem != MAP_FAILED);
  g_assert_cmpint (mprotect (mem + page, page, PROT_NONE), ==, 0);
  at = (gchar *) mem + page - n;
  memcpy (at, text, n);
  got = lstm_label_from_cue (at, n, TRUE);
  g_assert_cmpstr (got, ==, "a &#12345678901234");
  munmap (mem, 2 * page);
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
  g_test_add_func ("/lstm/labels/unterminated", test_unterminated);
  return g_test_run ();
}
