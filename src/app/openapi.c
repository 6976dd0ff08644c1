/*
 * openapi.c — placeholder: no documentation routes yet.
 */
#include "app/openapi.h"

int lanes_openapi_register(lanes_app *app)
{
    (void)app;
    return 0;
}
