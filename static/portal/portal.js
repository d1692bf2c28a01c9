// Small page helpers that need no framework.
//
// The language menu has no script on purpose: it changes the language only when its button is
// pressed, so that a choice made with the arrow keys does not reload the page under the person
// (WCAG 3.2.2, on input).
