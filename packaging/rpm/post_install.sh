# wpam %post: create the log file if missing and fix its owner/mode, never
# truncating it. root:adm where the adm group exists, else root:root.
log=/var/log/wpam.log
group=root
if getent group adm >/dev/null 2>&1; then
	group=adm
fi
if [ -L "$log" ]; then
	:
elif [ ! -e "$log" ]; then
	install -m 0640 -o root -g "$group" /dev/null "$log" || :
elif [ -f "$log" ]; then
	chown "root:$group" "$log" || :
	chmod 0640 "$log" || :
fi
exit 0
