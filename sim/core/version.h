/* The version coapsim reports (--version, summary.json). */
#ifndef COAPSIM_VERSION_H
#define COAPSIM_VERSION_H
#define COAPSIM_VERSION "0.1.0"
#endif
