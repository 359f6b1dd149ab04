/* lib.c: the shared object fixture (libhello.so). */
const char *hello_lib(void)
{
	return "hello from libhello.so";
}
