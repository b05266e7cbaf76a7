//! Management console client (vdeterm); filled by a later issue.
