//! User Mode Linux tools (COW files, launcher); filled by later issues.
