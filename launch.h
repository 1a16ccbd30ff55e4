/*
 * Starting a daemon: the daemon(7) sequence, top-down.
 */
#ifndef LAUNCH_H
#define LAUNCH_H

#include "options.h"

int launch(const struct options *o);

#endif
