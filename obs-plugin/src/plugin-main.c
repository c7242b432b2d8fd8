/* vasa-bridge for OBS: registers the "VASA Bridge" source (src/vasa-source.c). */
#include <obs-module.h>

#include "plugin-support.h"

OBS_DECLARE_MODULE()
OBS_MODULE_USE_DEFAULT_LOCALE(PLUGIN_NAME, "en-US")

extern struct obs_source_info vasa_source_info;

MODULE_EXPORT const char *obs_module_description(void)
{
	return obs_module_text("VasaBridge.Description");
}

bool obs_module_load(void)
{
	obs_register_source(&vasa_source_info);
	vb_log(LOG_INFO, "plugin loaded (version %s)", PLUGIN_VERSION);
	return true;
}

void obs_module_unload(void)
{
	vb_log(LOG_INFO, "plugin unloaded");
}
