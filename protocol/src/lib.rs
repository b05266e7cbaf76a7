//! Wire formats of the VDE switch (no I/O).
