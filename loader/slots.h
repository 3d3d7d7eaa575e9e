/* SPDX-License-Identifier: GPL-2.0 */
#ifndef PORTCULLIS_SLOTS_H
#define PORTCULLIS_SLOTS_H

#include "instance.h"

/* Set the counter slot of every entry of half (PC_PORT_STATS_ENTRIES,
 * laid out as pc_compiled's ports) and record new runs in counter_slots
 * (loader/slots.c). */
int pc_slots_publish(struct pc_instance *inst, struct pc_port_entry *half);

#endif
