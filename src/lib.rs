//! wpam: a PAM module adding a Werbot second factor.
